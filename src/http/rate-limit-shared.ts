/**
 * The per-tenant rate limit shared by every replica: counters live in Redis (`REDIS_URL`) or Postgres
 * (an UNLOGGED table, `control.rate_limits`), through rate-limiter-flexible. N replicas then allow the
 * configured budget once, not N times.
 *
 * The store is never a single point of failure: when it errors or answers slower than
 * `RATE_LIMIT_STORE_TIMEOUT_MS`, the decision is taken by the in-process token bucket (per replica,
 * the same limits), counted in `vault_mcp_rate_limit_fallbacks_total`, and logged once per outage.
 *
 * The token bucket (`RATE_LIMIT_PER_MINUTE` sustained, `RATE_LIMIT_BURST` at once) is mapped to the
 * store's fixed windows: `burst` requests per window of `burst × 60 / perMinute` seconds (at least 1 s).
 *
 * @module
 */
import { Redis } from 'ioredis';
import {
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterStoreAbstract,
} from 'rate-limiter-flexible';
import type { Config } from '../config/index.js';
import { createPool, type Pool } from '../db/pool.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { createRateLimiter, type RateLimiter } from './rate-limit.js';
import { createSyncedCounter, type StoreCount } from './rate-limit-sync.js';

export interface ClosableRateLimiter extends RateLimiter {
  /** `memory`, `postgres` or `redis`. */
  readonly store: string;
  close(): Promise<void>;
}

/** The fixed window that approximates the token bucket: `points` per `seconds`. */
export function windowFor(perMinute: number, burst: number): { points: number; seconds: number } {
  const seconds = Math.max(1, Math.round((Math.max(1, burst) * 60) / perMinute));
  return { points: Math.max(1, Math.round((perMinute * seconds) / 60)), seconds };
}

const TABLE = 'rate_limits';
const SCHEMA = 'control';

/**
 * The limiter the configuration asks for: none (`RATE_LIMIT_PER_MINUTE=0`), in-process only
 * (`RATE_LIMIT_STORE=memory`), or shared through Redis / Postgres with the in-process fallback.
 *
 * @example
 * const limiter = await createRateLimiterFromConfig(config, { pool, log, metrics });
 */
export async function createRateLimiterFromConfig(
  config: Readonly<Config>,
  deps: { pool: Pool; log: Logger; metrics?: Metrics },
): Promise<ClosableRateLimiter | undefined> {
  const { perMinute, burst } = config.rateLimit;
  if (!perMinute) return undefined;
  const store = config.httpEdge.rateLimitStore;
  if (store.kind === 'memory') {
    const local = createRateLimiter({ perMinute, burst });
    return { store: 'memory', take: (key, count) => local.take(key, count), close: () => Promise.resolve() };
  }
  return createSharedRateLimiter({
    perMinute,
    burst,
    keyPrefix: store.keyPrefix,
    timeoutMs: store.timeoutMs,
    syncMs: store.syncMs,
    ...(store.kind === 'redis' ? { redisUrl: store.redisUrl! } : { pool: deps.pool }),
    log: deps.log,
    metrics: deps.metrics,
  });
}

/**
 * @example
 * const limiter = await createSharedRateLimiter({ perMinute: 1200, burst: 200, keyPrefix: 'vault-mcp:rl',
 *   timeoutMs: 250, redisUrl: 'redis://127.0.0.1:6379', log });
 * const wait = await limiter.take('t:acme');
 */
export async function createSharedRateLimiter(
  opts: {
    perMinute: number;
    burst: number;
    keyPrefix: string;
    timeoutMs: number;
    /** Sync local decisions to the store at least this often (ms); 0 asks the store on every request. */
    syncMs: number;
    log: Logger;
    metrics?: Metrics;
  } & ({ redisUrl: string } | { pool: Pool }),
): Promise<ClosableRateLimiter> {
  const { points, seconds } = windowFor(opts.perMinute, opts.burst);
  const fallback = createRateLimiter({ perMinute: opts.perMinute, burst: opts.burst });
  let limiter: RateLimiterStoreAbstract;
  let close: () => Promise<void>;
  let storeName: 'redis' | 'postgres';
  let down = false;
  const storeFailed = (e: unknown) => {
    opts.metrics?.rateLimitFallbacks.inc({ store: storeName });
    markDown(e);
  };
  const markDown = (e: unknown) => {
    if (down) return;
    down = true;
    opts.log.warn(
      { store: storeName, err: (e as Error)?.message ?? String(e) },
      'rate-limit store unavailable: limiting in-process (per replica) until it answers again',
    );
  };

  if ('redisUrl' in opts) {
    storeName = 'redis';
    // No offline queue: while Redis is down a command fails at once and the fallback decides.
    const redis = new Redis(opts.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
    });
    redis.on('error', (e: Error) => markDown(e));
    await new Promise<void>((resolve) => {
      // Boot does not wait longer for Redis: the fallback covers the time until it is ready.
      const t = setTimeout(resolve, Math.min(2000, Math.max(500, opts.timeoutMs * 4)));
      redis.once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
    limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: opts.keyPrefix,
      points,
      duration: seconds,
      rejectIfRedisNotReady: true,
    });
    close = () => {
      redis.disconnect();
      return Promise.resolve();
    };
  } else {
    storeName = 'postgres';
    // A small pool of its own: rate-limit checks must not queue behind tenant work for a connection.
    const pool = createPool({
      url: opts.pool.options.connectionString!,
      max: 3,
      statementTimeoutMs: Math.max(1000, opts.timeoutMs * 4),
      applicationName: 'vault-mcp-ratelimit',
      tenantRoles: false,
      onError: () => undefined,
    });
    // UNLOGGED: counters need no crash safety, and skipping the WAL keeps each check cheap. Boot waits
    // for it a bounded time only: until the table exists, checks fail over to the in-process limiter.
    const created = pool
      .query(
        `CREATE UNLOGGED TABLE IF NOT EXISTS ${SCHEMA}.${TABLE} (
           key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
      )
      .catch((e: Error & { code?: string }) => {
        // Replicas booting together race on CREATE TABLE; a serving role without CREATE (42501) uses the
        // table migration 0140 made; anything else falls back until fixed.
        if (e.code !== '23505' && e.code !== '42P07' && e.code !== '42501') markDown(e);
      });
    await Promise.race([created, new Promise((r) => setTimeout(r, Math.max(1000, opts.timeoutMs * 4)).unref())]);
    limiter = new RateLimiterPostgres({
      storeClient: pool,
      storeType: 'pool',
      schemaName: SCHEMA,
      tableName: TABLE,
      tableCreated: true,
      keyPrefix: opts.keyPrefix,
      points,
      duration: seconds,
    });
    close = () => pool.end();
  }

  /** One increment in the store, within the timeout; over the limit is an answer, not a failure. */
  const increment = async (key: string, n: number): Promise<StoreCount> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const res = await Promise.race([
        limiter.consume(key, n).catch((e: unknown) => {
          if (e instanceof RateLimiterRes) return e;
          throw e;
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
        }),
      ]);
      down = false;
      return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } finally {
      clearTimeout(timer);
    }
  };
  const counter = createSyncedCounter({ points, syncMs: opts.syncMs, increment, onSyncError: markDown });

  return {
    store: storeName,
    async take(key, count = 1) {
      try {
        return await counter.take(key, count);
      } catch (e) {
        storeFailed(e);
        return fallback.take(key, count);
      }
    },
    async close() {
      await counter.flush();
      await close();
    },
  };
}
