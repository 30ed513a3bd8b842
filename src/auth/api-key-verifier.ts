/**
 * Verifies `vmcp_<id>_<secret>` API keys against control.api_keys. The user is tenant-bound; `actor`
 * is the key, `subject` is the act-as user when the key has one.
 *
 * Rows are cached by key id (bounded LRU, short TTL) only while a LISTEN connection is up: every
 * insert, change or deletion of a key notifies `vault_mcp_api_keys` (migration 0014) and each replica
 * drops that id at once, so a revocation is refused everywhere within the notification's latency.
 * When the listener is down or was down since a row was read, nothing is cached (fail closed: every
 * request reads Postgres, as without a cache). Unknown ids, wrong secrets, revoked and expired keys
 * are answered from the same cached row, so a flood of one bad key does not reach Postgres.
 * `last_used_at` is collected in memory and written in one statement per `lastUsedFlushMs`.
 *
 * @module
 */
import { singleFlight } from '../shared/single-flight.js';
import { timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { NotifyListener } from '../db/notify-listener.js';
import type { Pool } from '../db/pool.js';
import { AuthError } from '../errors/index.js';
import { API_KEY_RE, hashSecret } from './api-keys.js';
import type { OpaqueVerifier } from './create-verifier.js';
import type { UserContext } from './types.js';

/** The channel migration 0014's trigger notifies with the key id ('*' after a TRUNCATE). */
export const API_KEYS_CHANNEL = 'vault_mcp_api_keys';

interface KeyRow {
  tenant_id: string;
  secret_sha256: Buffer;
  scopes: string[];
  act_as: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

export interface ApiKeyCacheOptions {
  /** Notifications of key changes; without it (or while it is down) nothing is cached. */
  listener: NotifyListener;
  /** How long a row read from Postgres is reused (a backstop: notifications evict at once). */
  ttlMs: number;
  /** How long an unknown key id is remembered (refusals without a Postgres read). */
  negativeTtlMs: number;
  maxEntries: number;
}

export interface ApiKeyVerifier extends OpaqueVerifier {
  /** Write pending `last_used_at` values and stop the timer. */
  close(): Promise<void>;
}

/**
 * @example
 * const apiKeys = createApiKeyVerifier({ pool, issuer: config.publicUrl });
 */
export function createApiKeyVerifier(opts: {
  pool: Pool;
  issuer: string;
  onError?: (e: Error) => void;
  cache?: ApiKeyCacheOptions;
  /** How often pending `last_used_at` values are written (default 60 s; the column is informational). */
  lastUsedFlushMs?: number;
}): ApiKeyVerifier {
  const c = opts.cache;
  // `null` remembers an unknown id. Entries carry the listener generation they were read in.
  const rows =
    c && c.ttlMs > 0
      ? new LRUCache<string, { row: KeyRow | null; generation: number }>({ max: c.maxEntries, ttl: c.ttlMs })
      : undefined;
  // Bumped by every notification: a read that a notification may have overtaken is not cached.
  let changes = 0;
  c?.listener.on((channel, id) => {
    // The listener may carry other channels too (grant changes); '*' is a lost or regained connection.
    if (channel !== API_KEYS_CHANNEL && channel !== '*') return;
    changes++;
    if (id === '*') rows?.clear();
    else rows?.delete(id);
  });
  const reads = singleFlight<KeyRow | null>();

  async function read(id: string): Promise<KeyRow | null> {
    const r = await opts.pool.query<KeyRow & Record<string, unknown>>(
      'SELECT tenant_id, secret_sha256, scopes, act_as, expires_at, revoked_at FROM control.api_keys WHERE id = $1',
      [id],
    );
    return r.rows[0] ?? null;
  }

  async function lookup(id: string): Promise<KeyRow | null> {
    const listener = c?.listener;
    if (!rows || !listener?.listening) return read(id);
    const hit = rows.get(id);
    if (hit && hit.generation === listener.generation) return hit.row;
    return reads.run(id, () => {
      // Taken before the query starts: a change notified meanwhile keeps this row out of the cache.
      const [generation, seen] = [listener.generation, changes];
      return read(id).then((row) => {
        if (listener.listening && listener.generation === generation && changes === seen)
          rows.set(id, { row, generation }, row ? undefined : { ttl: Math.min(c!.ttlMs, c!.negativeTtlMs) });
        return row;
      });
    });
  }

  // last_used_at: remembered here, written in one statement now and then (never on the request path).
  const lastUsed = new Map<string, number>();
  const flush = async () => {
    if (!lastUsed.size) return;
    const ids = [...lastUsed.keys()];
    const at = ids.map((k) => lastUsed.get(k)! / 1000);
    lastUsed.clear();
    await opts.pool
      .query(
        `UPDATE control.api_keys k SET last_used_at = to_timestamp(u.at)
           FROM unnest($1::text[], $2::float8[]) AS u(id, at)
          WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < to_timestamp(u.at))`,
        [ids, at],
      )
      .catch((e: Error) => opts.onError?.(e));
  };
  const timer = setInterval(() => void flush(), opts.lastUsedFlushMs ?? 60_000);
  timer.unref();

  return {
    provider: 'api-key',
    async close() {
      clearInterval(timer);
      await flush();
    },
    async verify(token: string): Promise<UserContext> {
      const m = API_KEY_RE.exec(token);
      if (!m)
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The API key is malformed (expected vmcp_<16 hex>_<43 chars>)');
      const [, id, secret] = m as unknown as [string, string, string];
      const row = (await lookup(id)) ?? undefined;
      const given = hashSecret(secret);
      // Constant-time compare; an unknown id is compared against itself so both paths cost the same.
      const stored = row?.secret_sha256.length === given.length ? row.secret_sha256 : given;
      if (!timingSafeEqual(given, stored) || !row)
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The API key is not valid');
      if (row.revoked_at) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The API key ${id} has been revoked`);
      if (row.expires_at && row.expires_at.getTime() <= Date.now()) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The API key ${id} expired at ${row.expires_at.toISOString()}`);
      }
      lastUsed.set(id, Date.now());
      const actor = `api-key:${id}`;
      return {
        subject: row.act_as ?? actor,
        provider: 'api-key',
        issuer: opts.issuer,
        email: row.act_as ?? undefined,
        // The admin who created the key asserted the act-as user; there is no email to verify otherwise.
        emailVerified: row.act_as !== null,
        scopes: [...row.scopes],
        clientId: actor,
        expiresAt: row.expires_at ? Math.floor(row.expires_at.getTime() / 1000) : Math.floor(Date.now() / 1000) + 3600,
        actor,
        tenantId: row.tenant_id,
      };
    },
  };
}
