/**
 * The Postgres session store: the tenant's `vault_sessions` table through `withTenant`, the session id
 * encrypted (AES-256-GCM, see crypto.ts), each row tagged with the Vault URL it was opened on.
 *
 * Logins are serialised across replicas by a lease row (`vault_login_leases`), never by a lock held
 * on a pooled connection: the first replica claims the lease in a short transaction, calls Vault with
 * no connection checked out, then stores the session and drops the lease in a second short
 * transaction. The others poll the shared row (short transactions, backing off to 500 ms) until the
 * session is there, or the lease is released or expired, in which case they claim it themselves.
 * A login refused by Vault's per-minute login limit leaves the lease as a cooldown until the window
 * Vault reported has passed: other replicas then fail at once with the same retryable error instead
 * of calling /auth again.
 * So a Vault that hangs on login holds no database connection, and cannot starve other tenants.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import { withTenant, type TenantTx } from '../db/with-tenant.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { SessionCipher } from './crypto.js';
import { isVaultError, loginInProgressError, loginLimitError } from './errors.js';
import { rowKey, vaultUrlOf, type SessionKey } from './session-cache.js';
import type { SessionStore, StoredSession } from './session-store.js';

/** The lease holder while Vault refuses logins for the key (API_LIMIT_EXCEEDED on a login). */
const COOLDOWN = 'vault-login-limit';

interface Row extends Record<string, unknown> {
  vault_user: string | null;
  vault_url: string | null;
  ciphertext: Buffer;
  expires_at: Date;
  last_used_at: Date;
  created_at: Date;
}

export interface PgSessionStoreOptions {
  pool: Pool;
  cipher: SessionCipher;
  onDecryptError?: (tenant: string) => void;
  /** How long a login lease holds before another replica may take over (default 90 s: a login's worst case). */
  leaseMs?: number;
  /** Longest pause between two polls of a waiting replica (default 500 ms). */
  maxPollMs?: number;
  /**
   * Longest a caller waits for another replica's login of the same key before it is answered with a
   * retryable error (default 30 s, VAULT_TIMEOUT_MS in production): a call never hangs for a whole lease.
   */
  maxWaitMs?: number;
}

/** Drop the lease on row key `k` if `holder` still holds it. */
const dropLease = (tx: TenantTx, k: string, holder: string) =>
  tx.query('DELETE FROM vault_login_leases WHERE key = $1 AND holder = $2', [k, holder]);

/**
 * @example
 * const store = createPgSessionStore({ pool, cipher: createSessionCipher(config.secretKey) });
 */
export function createPgSessionStore(deps: PgSessionStoreOptions): SessionStore {
  const { pool, cipher } = deps;
  const leaseMs = deps.leaseMs ?? 90_000;
  const maxPollMs = deps.maxPollMs ?? 500;
  const maxWaitMs = deps.maxWaitMs ?? 30_000;
  const aad = (tenant: Tenant, key: SessionKey) => `${tenant.schema}|${rowKey(key)}`;

  /** The stored session for `key`, if it decrypts and was opened on the key's Vault URL. */
  const read = async (tx: TenantTx, tenant: Tenant, key: SessionKey): Promise<StoredSession | undefined> => {
    const { rows } = await tx.query<Row>(
      'SELECT vault_user, vault_url, ciphertext, expires_at, last_used_at, created_at FROM vault_sessions WHERE key = $1',
      [rowKey(key)],
    );
    const r = rows[0];
    if (!r || r.vault_url !== key.vaultUrl) return undefined;
    try {
      return {
        sessionId: cipher.decrypt(r.ciphertext, aad(tenant, key)),
        vaultUserId: r.vault_user ?? '',
        createdAt: r.created_at.getTime(),
        lastUsedAt: r.last_used_at.getTime(),
        expiresAt: r.expires_at.getTime(),
        ref: r.ciphertext.toString('base64'),
      };
    } catch {
      // SECRET_KEY changed or the row was tampered with: treat as absent, a fresh login overwrites it.
      deps.onDecryptError?.(tenant.id);
      return undefined;
    }
  };

  const release = (tenant: Tenant, key: SessionKey, holder: string) =>
    withTenant(pool, tenant.schema, (tx) => dropLease(tx, rowKey(key), holder));

  /**
   * Release a lease that may be held, retrying in the background while the database is unreachable:
   * a lease left behind by a live replica (its release or store failed when connections dropped) would
   * make every caller of the key wait out `leaseMs`. Gives up once the lease would have expired.
   */
  const releaseSoon = (tenant: Tenant, key: SessionKey, holder: string, claimedAt: number): Promise<void> => {
    const attempt = (pause: number): Promise<void> =>
      release(tenant, key, holder).then(
        () => undefined,
        () => {
          if (Date.now() + pause >= claimedAt + leaseMs) return;
          setTimeout(() => void attempt(Math.min(2000, pause * 2)), pause).unref();
        },
      );
    return attempt(100);
  };

  /** Keep the lease until Vault's login window has passed (a holder no replica can be). */
  const cooldown = (tenant: Tenant, key: SessionKey, holder: string, ms: number) =>
    withTenant(pool, tenant.schema, (tx) =>
      tx.query(
        `UPDATE vault_login_leases SET holder = $3, expires_at = now() + $4 * interval '1 millisecond'
          WHERE key = $1 AND holder = $2`,
        [rowKey(key), holder, COOLDOWN, ms],
      ),
    );

  return {
    shared: true,
    async getOrCreate(tenant, key, usable, login) {
      const k = rowKey(key);
      const holder = randomUUID();
      let claimedAt = 0; // when this round's claim was sent (0: not sent, nothing to release)
      const giveUpAt = Date.now() + maxWaitMs;
      for (let pause = 20; ; pause = Math.min(maxPollMs, Math.round(pause * 1.5))) {
        claimedAt = 0;
        const found = await withTenant(pool, tenant.schema, async (tx) => {
          const cur = await read(tx, tenant, key);
          if (cur && usable(cur)) return { session: cur };
          claimedAt = Date.now();
          const claimed = await tx.query(
            `INSERT INTO vault_login_leases (key, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
             ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
               WHERE vault_login_leases.expires_at <= now()`,
            [k, holder, leaseMs],
          );
          if (!claimed.rowCount) {
            const { rows } = await tx.query<{ left_ms: number }>(
              `SELECT ceil(extract(epoch FROM expires_at - now()) * 1000)::int AS left_ms
                 FROM vault_login_leases WHERE key = $1 AND holder = $2`,
              [k, COOLDOWN],
            );
            return rows[0] ? { cooldownMs: rows[0].left_ms } : { waiting: true };
          }
          // Another replica may have stored a session and dropped its lease since the read above.
          const stored = await read(tx, tenant, key);
          if (stored && usable(stored)) {
            await dropLease(tx, k, holder);
            return { session: stored };
          }
          return { claimed: true };
        }).catch((e: unknown) => {
          // A claim sent may have committed although we saw an error (a connection dropped at COMMIT).
          if (claimedAt) void releaseSoon(tenant, key, holder, claimedAt);
          throw e;
        });
        if (found.session) return { ...found.session, created: false };
        if (found.cooldownMs !== undefined) throw loginLimitError(found.cooldownMs / 1000);
        if (found.claimed) break;
        if (Date.now() + pause > giveUpAt) throw loginInProgressError(maxWaitMs);
        await new Promise((r) => setTimeout(r, pause));
      }

      // This replica holds the lease: log in with no connection checked out.
      let s;
      try {
        s = await login();
      } catch (e) {
        // Vault's login limit: the lease turns into a cooldown, so other replicas do not try either.
        const wait = isVaultError(e, 'API_LIMIT_EXCEEDED') ? Number(e.details.retryAfter) : NaN;
        if (wait > 0)
          await cooldown(tenant, key, holder, wait * 1000).catch(() => releaseSoon(tenant, key, holder, claimedAt));
        else await releaseSoon(tenant, key, holder, claimedAt);
        throw e;
      }
      const blob = cipher.encrypt(s.sessionId, aad(tenant, key));
      const at = new Date();
      await withTenant(pool, tenant.schema, async (tx) => {
        await tx.query(
          `INSERT INTO vault_sessions (key, vault_user, vault_url, ciphertext, expires_at, last_used_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6)
           ON CONFLICT (key) DO UPDATE SET vault_user = EXCLUDED.vault_user, vault_url = EXCLUDED.vault_url,
             ciphertext = EXCLUDED.ciphertext, expires_at = EXCLUDED.expires_at,
             last_used_at = EXCLUDED.last_used_at, created_at = EXCLUDED.created_at`,
          [k, s.vaultUserId, key.vaultUrl, blob, new Date(s.expiresAt), at],
        );
        await dropLease(tx, k, holder);
      }).catch((e: unknown) => {
        void releaseSoon(tenant, key, holder, claimedAt);
        throw e;
      });
      return { ...s, createdAt: at.getTime(), lastUsedAt: at.getTime(), ref: blob.toString('base64'), created: true };
    },
    async touch(tenant, key, at) {
      await withTenant(pool, tenant.schema, (tx) =>
        tx.query(
          'UPDATE vault_sessions SET last_used_at = greatest(last_used_at, $2) WHERE key = $1 AND vault_url = $3',
          [rowKey(key), new Date(at), key.vaultUrl],
        ),
      );
    },
    async remove(tenant, key, ref) {
      return withTenant(pool, tenant.schema, async (tx) => {
        const cur = await read(tx, tenant, key);
        const sql =
          ref === undefined
            ? 'DELETE FROM vault_sessions WHERE key = $1'
            : 'DELETE FROM vault_sessions WHERE key = $1 AND ciphertext = $2';
        const { rowCount } = await tx.query(
          sql,
          ref === undefined ? [rowKey(key)] : [rowKey(key), Buffer.from(ref, 'base64')],
        );
        return rowCount ? cur : undefined;
      });
    },
    async getMapping(tenant, subject) {
      const { rows } = await withTenant(pool, tenant.schema, (tx) =>
        tx.query<{
          email: string;
          vault_user_id: string | null;
          vault_username: string | null;
          vault_url: string | null;
        }>('SELECT email, vault_user_id, vault_username, vault_url FROM user_mappings WHERE subject = $1', [subject]),
      );
      const r = rows[0];
      // A mapping found on another Vault (the tenant's URL changed) is looked up again.
      return r?.vault_user_id && r.vault_url === vaultUrlOf(tenant)
        ? { email: r.email, vaultUserId: r.vault_user_id, vaultUsername: r.vault_username ?? '' }
        : undefined;
    },
    async putMapping(tenant, subject, m) {
      await withTenant(pool, tenant.schema, (tx) =>
        tx.query(
          `INSERT INTO user_mappings (subject, email, vault_user_id, vault_username, vault_url, updated_at)
           VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (subject) DO UPDATE SET email = EXCLUDED.email, vault_user_id = EXCLUDED.vault_user_id,
             vault_username = EXCLUDED.vault_username, vault_url = EXCLUDED.vault_url, updated_at = now()`,
          [subject, m.email, m.vaultUserId, m.vaultUsername, vaultUrlOf(tenant)],
        ),
      );
    },
  };
}
