/**
 * The per-tenant rate limit shared across replicas, with real stores: Redis (127.0.0.1:6379, a unique
 * key prefix per run so parallel runs do not collide) and Postgres (this file's own database). Two
 * server instances on one store share one budget; a store that is down or hangs leaves the
 * in-process limit in force, without a 500.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createPool } from '../../src/db/pool.js';
import { createSharedRateLimiter, windowFor } from '../../src/http/rate-limit-shared.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import { createMetrics } from '../../src/metrics/index.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { metricValue, scrape, TEST_METRICS_TOKEN } from '../helpers/metrics.js';
import {
  DEFAULT_TEST_TENANTS,
  freePort,
  startTestServer,
  writeTenantsFile,
  type TestServer,
} from '../helpers/server.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';

const log = createLogger({ level: 'silent' });
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = () => `vmcp-test:${randomBytes(6).toString('hex')}`;

async function toolsList(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Send `n` requests alternating over `targets`; the statuses in order. */
async function spread(targets: { url: string; token: string }[], n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = targets[i % targets.length]!;
    out.push(await toolsList(t.url, t.token));
  }
  return out;
}

const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;

describe('shared rate limit: token bucket mapped to the store window', () => {
  it('burst per window of burst×60/perMinute seconds', () => {
    assert.deepEqual(windowFor(1200, 200), { points: 200, seconds: 10 });
    assert.deepEqual(windowFor(60, 20), { points: 20, seconds: 20 });
    assert.deepEqual(windowFor(5, 5), { points: 5, seconds: 60 });
    assert.deepEqual(windowFor(100_000, 1), { points: 1667, seconds: 1 }, 'at least one second');
  });
});

describe('shared rate limit through Redis: two instances, one budget', () => {
  const servers: TestServer[] = [];
  before(async () => {
    const env = {
      REDIS_URL,
      RATE_LIMIT_KEY_PREFIX: prefix(),
      RATE_LIMIT_PER_MINUTE: '5',
      RATE_LIMIT_BURST: '5',
    };
    servers.push(await startTestServer(env), await startTestServer(env));
  });
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('8 requests over 2 instances: exactly 5 pass (one shared budget), the rest 429', async () => {
    // Each instance has its own issuer and audience; the tenant (acme) and so the budget are the same.
    const statuses = await spread(
      await Promise.all(servers.map(async (s) => ({ url: s.url, token: await s.token() }))),
      8,
    );
    assert.equal(count(statuses, 200), 5, statuses.join(','));
    assert.equal(count(statuses, 429), 3, statuses.join(','));
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    for (const s of servers)
      assert.equal(metricValue(await scrape(s.url), 'vault_mcp_rate_limit_fallbacks_total'), 0, 'the store answered');
  });
});

describe('shared rate limit through Postgres: two instances on one database, one budget', () => {
  let db: TestDb;
  let issuer: DevIssuer;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  const replicas: Running[] = [];
  before(async () => {
    db = await createTestDatabase();
    issuer = await startDevIssuer();
    tenantsFile = await writeTenantsFile(DEFAULT_TEST_TENANTS);
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: String(await freePort()),
        PUBLIC_URL: 'http://127.0.0.1:1',
        ALLOWED_HOSTS: '127.0.0.1',
        DATABASE_URL: db.url,
        OIDC_ISSUER: issuer.issuer,
        SECRET_KEY: 'r'.repeat(32),
        TENANTS_FILE: tenantsFile.file,
        RATE_LIMIT_STORE: 'postgres',
        RATE_LIMIT_PER_MINUTE: '5',
        RATE_LIMIT_BURST: '5',
        METRICS_TOKEN: TEST_METRICS_TOKEN,
        LOG_LEVEL: 'silent',
      });
      replicas.push(await start(config, { log }));
    }
  });
  after(async () => {
    for (const r of replicas) await r.close();
    await issuer?.close();
    await tenantsFile?.remove();
    await db?.drop();
  });

  it('8 requests over 2 instances: exactly 5 pass, the rest 429', async () => {
    const token = await issuer.mint({
      sub: 'u',
      aud: 'http://127.0.0.1:1/mcp',
      email: 'qa@acme.com',
      email_verified: true,
      scope: 'vault:read',
    });
    const statuses = await spread(
      replicas.map((r) => ({ url: r.url, token })),
      8,
    );
    assert.equal(count(statuses, 200), 5, statuses.join(','));
    assert.equal(count(statuses, 429), 3, statuses.join(','));
  });
});

describe('shared rate limit: the store down or hanging leaves the in-process limit in force', () => {
  let s: TestServer;
  let blackhole: Server;
  const sockets: Socket[] = [];
  let blackholePort: number;
  before(async () => {
    s = await startTestServer({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`, // nothing listens there
      RATE_LIMIT_KEY_PREFIX: prefix(),
      RATE_LIMIT_PER_MINUTE: '5',
      RATE_LIMIT_BURST: '5',
    });
    // Accepts connections and never answers: a hung store.
    blackhole = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    blackholePort = (blackhole.address() as { port: number }).port;
  });
  after(async () => {
    await s?.close();
    for (const sock of sockets) sock.destroy();
    await new Promise((r) => blackhole.close(r));
  });

  it('Redis down: the 6th request is 429 from the in-process limiter, no 500; fallbacks are counted', async () => {
    const statuses = await spread([{ url: s.url, token: await s.token() }], 7);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    assert.equal(metricValue(await scrape(s.url), 'vault_mcp_rate_limit_fallbacks_total', { store: 'redis' }), 7);
  });

  for (const kind of ['postgres', 'redis'] as const) {
    it(`${kind} hanging: each decision falls back within RATE_LIMIT_STORE_TIMEOUT_MS`, async () => {
      const metrics = createMetrics({ defaultMetrics: false });
      const url =
        kind === 'redis' ? `redis://127.0.0.1:${blackholePort}` : `postgres://postgres@127.0.0.1:${blackholePort}/x`;
      const pool = createPool({ url, max: 1, statementTimeoutMs: 1000 });
      const limiter = await createSharedRateLimiter({
        perMinute: 3,
        burst: 3,
        keyPrefix: prefix(),
        timeoutMs: 100,
        syncMs: 100,
        log,
        metrics,
        ...(kind === 'redis' ? { redisUrl: url } : { pool }),
      });
      try {
        const started = performance.now();
        const waits: number[] = [];
        for (let i = 0; i < 4; i++) waits.push(await limiter.take('t:acme'));
        const ms = performance.now() - started;
        assert.deepEqual(
          waits.map((w) => (w ? 'limited' : 'ok')),
          ['ok', 'ok', 'ok', 'limited'],
        );
        assert.ok(ms < 4 * 100 + 400, `4 decisions took ${ms} ms`);
        assert.equal((await metrics.rateLimitFallbacks.get()).values[0]?.value, 4);
      } finally {
        for (const sock of sockets.splice(0)) sock.destroy(); // pending connects fail now instead of timing out
        await limiter.close();
        await pool.end();
      }
    });
  }

  it('Redis going down mid-run and coming back: in-process limit meanwhile, the shared budget again after', async () => {
    // A TCP proxy in front of the real Redis that we can cut and restore on the same port.
    const port = await freePort();
    const links = new Set<Socket>();
    const startProxy = async () => {
      const proxy = createServer((client) => {
        const upstream = connect({ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) });
        for (const sock of [client, upstream]) {
          links.add(sock);
          sock.on('error', () => undefined);
          sock.on('close', () => {
            links.delete(sock);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
      return proxy;
    };
    const stopProxy = async (p: Server) => {
      const closed = new Promise((r) => p.close(r));
      for (const sock of links) sock.destroy();
      await closed;
    };
    let proxy = await startProxy();
    const metrics = createMetrics({ defaultMetrics: false });
    const fallbacks = async () => (await metrics.rateLimitFallbacks.get()).values[0]?.value ?? 0;
    const limiter = await createSharedRateLimiter({
      perMinute: 6,
      burst: 6,
      keyPrefix: prefix(),
      timeoutMs: 200,
      syncMs: 100,
      redisUrl: `redis://127.0.0.1:${port}`,
      log,
      metrics,
    });
    const ok = async (n: number) => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) out.push((await limiter.take('t:acme')) === 0);
      return out;
    };
    try {
      assert.deepEqual(await ok(3), [true, true, true], 'shared store: 3 of 6 spent');
      assert.equal(await fallbacks(), 0);

      await stopProxy(proxy);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        await ok(7),
        [true, true, true, true, true, true, false],
        'store down: the in-process bucket (6) decides',
      );
      assert.equal(await fallbacks(), 7);

      proxy = await startProxy();
      // ioredis reconnects with backoff; once it is ready the store decides again.
      const deadline = Date.now() + 10_000;
      let before = await fallbacks();
      for (;;) {
        const allowed = await limiter.take('t:probe');
        const now = await fallbacks();
        if (now === before && allowed === 0) break;
        before = now;
        assert.ok(Date.now() < deadline, 'Redis came back within 10 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(
        await ok(4),
        [true, true, true, false],
        'store back: the shared count (3 spent before the outage) applies again',
      );
    } finally {
      await limiter.close();
      await stopProxy(proxy);
    }
  });
});

describe('shared rate limit with local decisions between syncs (RATE_LIMIT_SYNC_MS)', () => {
  for (const kind of ['postgres', 'redis'] as const) {
    it(`${kind}: two replicas, 600 concurrent requests, budget 200: 200 to 210 pass, none counted twice or lost`, async () => {
      let db: TestDb | undefined;
      let pool: ReturnType<typeof createPool> | undefined;
      if (kind === 'postgres') {
        db = await createTestDatabase();
        pool = createPool({ url: db.url, max: 2, statementTimeoutMs: 5000 });
        await pool.query('CREATE SCHEMA control'); // what migrations make; the limiter creates its table
      }
      const metrics = createMetrics({ defaultMetrics: false });
      const keyPrefix = prefix();
      const replicas = await Promise.all(
        [0, 1].map(() =>
          createSharedRateLimiter({
            perMinute: 1200,
            burst: 200, // 200 points per 10 s window
            keyPrefix,
            timeoutMs: 10_000, // counting is under test, not the timeout: a loaded CI machine is slow
            syncMs: 100,
            log,
            metrics,
            ...(kind === 'redis' ? { redisUrl: REDIS_URL } : { pool: pool! }),
          }),
        ),
      );
      try {
        const waits = await Promise.all(
          Array.from({ length: 600 }, (_, i) => Promise.resolve(replicas[i % 2]!.take('t:acme'))),
        );
        const allowed = waits.filter((w) => w === 0).length;
        assert.ok(allowed >= 200 && allowed <= 210, `${allowed} of 600 allowed`);
        // Far from the limit again (a fresh key): requests are decided locally, and all of them reach the store.
        for (let i = 0; i < 40; i++) assert.equal(await replicas[i % 2]!.take('t:beta'), 0);
        for (const r of replicas) await r.close();
        const redis = kind === 'redis' ? new Redis(REDIS_URL) : undefined;
        const stored = redis
          ? Number(await redis.get(`${keyPrefix}:t:beta`).finally(() => redis.disconnect()))
          : Number(
              (
                await pool!.query<{ points: number }>('SELECT points FROM control.rate_limits WHERE key = $1', [
                  `${keyPrefix}:t:beta`,
                ])
              ).rows[0]?.points,
            );
        assert.equal(stored, 40, 'the store counted each request once');
        assert.equal((await metrics.rateLimitFallbacks.get()).values[0]?.value ?? 0, 0, 'the store decided');
      } finally {
        for (const r of replicas) await r.close().catch(() => undefined);
        await pool?.end();
        await db?.drop();
      }
    });
  }
});
