/**
 * The Postgres session store: the tenant's `vault_sessions` table through `withTenant`, the session id
 * encrypted (AES-256-GCM, see crypto.ts). A transaction-level advisory lock keyed on (tenant schema,
 * key) serialises logins across replicas: the first replica logs in and stores the session while
 * holding the lock; the others wait, then read what it stored. The lock is released at COMMIT, so a
 * crashed replica never leaves it held.
 *
 * @module
 */
import type { Pool } from '../db/pool.js';
import { withTenant, type TenantTx } from '../db/with-tenant.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { SessionCipher } from './crypto.js';
import type { SessionStore, StoredSession } from './session-store.js';

/** Advisory-lock namespace for Vault logins ('vmsv'), distinct from the migration locks. */
export const SESSION_LOCK_NS = 0x766d7376;

interface Row extends Record<string, unknown> {
  vault_user: string | null;
  ciphertext: Buffer;
  expires_at: Date;
  last_used_at: Date;
  created_at: Date;
}

/**
 * @example
 * const store = createPgSessionStore({ pool, cipher: createSessionCipher(config.secretKey) });
 */
export function createPgSessionStore(deps: {
  pool: Pool;
  cipher: SessionCipher;
  onDecryptError?: (tenant: string) => void;
}): SessionStore {
  const { pool, cipher } = deps;
  const aad = (tenant: Tenant, key: string) => `${tenant.schema}|${key}`;

  const read = async (tx: TenantTx, tenant: Tenant, key: string): Promise<StoredSession | undefined> => {
    const { rows } = await tx.query<Row>(
      'SELECT vault_user, ciphertext, expires_at, last_used_at, created_at FROM vault_sessions WHERE key = $1',
      [key],
    );
    const r = rows[0];
    if (!r) return undefined;
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

  return {
    shared: true,
    getOrCreate(tenant, key, usable, login) {
      return withTenant(pool, tenant.schema, async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SESSION_LOCK_NS, `${tenant.schema}|${key}`]);
        const cur = await read(tx, tenant, key);
        if (cur && usable(cur)) return { ...cur, created: false };
        const s = await login();
        const blob = cipher.encrypt(s.sessionId, aad(tenant, key));
        const now = new Date();
        await tx.query(
          `INSERT INTO vault_sessions (key, vault_user, ciphertext, expires_at, last_used_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT (key) DO UPDATE SET vault_user = EXCLUDED.vault_user, ciphertext = EXCLUDED.ciphertext,
             expires_at = EXCLUDED.expires_at, last_used_at = EXCLUDED.last_used_at, created_at = EXCLUDED.created_at`,
          [key, s.vaultUserId, blob, new Date(s.expiresAt), now],
        );
        return {
          ...s,
          createdAt: now.getTime(),
          lastUsedAt: now.getTime(),
          ref: blob.toString('base64'),
          created: true,
        };
      });
    },
    async touch(tenant, key, at) {
      await withTenant(pool, tenant.schema, (tx) =>
        tx.query('UPDATE vault_sessions SET last_used_at = greatest(last_used_at, $2) WHERE key = $1', [
          key,
          new Date(at),
        ]),
      );
    },
    async remove(tenant, key, ref) {
      return withTenant(pool, tenant.schema, async (tx) => {
        const cur = await read(tx, tenant, key);
        const sql =
          ref === undefined
            ? 'DELETE FROM vault_sessions WHERE key = $1'
            : 'DELETE FROM vault_sessions WHERE key = $1 AND ciphertext = $2';
        const { rowCount } = await tx.query(sql, ref === undefined ? [key] : [key, Buffer.from(ref, 'base64')]);
        return rowCount ? cur : undefined;
      });
    },
    async getMapping(tenant, subject) {
      const { rows } = await withTenant(pool, tenant.schema, (tx) =>
        tx.query<{ email: string; vault_user_id: string | null; vault_username: string | null }>(
          'SELECT email, vault_user_id, vault_username FROM user_mappings WHERE subject = $1',
          [subject],
        ),
      );
      const r = rows[0];
      return r?.vault_user_id
        ? { email: r.email, vaultUserId: r.vault_user_id, vaultUsername: r.vault_username ?? '' }
        : undefined;
    },
    async putMapping(tenant, subject, m) {
      await withTenant(pool, tenant.schema, (tx) =>
        tx.query(
          `INSERT INTO user_mappings (subject, email, vault_user_id, vault_username, updated_at) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (subject) DO UPDATE SET email = EXCLUDED.email, vault_user_id = EXCLUDED.vault_user_id,
             vault_username = EXCLUDED.vault_username, updated_at = now()`,
          [subject, m.email, m.vaultUserId, m.vaultUsername],
        ),
      );
    },
  };
}
