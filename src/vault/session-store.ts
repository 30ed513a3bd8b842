/**
 * Where Vault sessions live between calls. Two implementations: Postgres (the tenant's
 * `vault_sessions` table, shared by every replica, see session-store-pg.ts) and memory (stdio mode,
 * which has no database). Both serialise logins per (tenant, key): `getOrCreate` runs `login` only
 * when no usable session is stored, under a lock, so concurrent callers log in once.
 *
 * @module
 */
import type { Tenant } from '../tenancy/tenant.js';

/** A session as stored (the id decrypted). */
export interface StoredSession {
  sessionId: string;
  /** Vault user id the session acts as. */
  vaultUserId: string;
  createdAt: number;
  /** Last Vault activity known to the store (ms epoch). */
  lastUsedAt: number;
  /** Hard expiry (Vault's 48 h maximum). */
  expiresAt: number;
  /** Opaque version marker for compare-and-delete (so we never delete a newer session). */
  ref: string;
}

export interface NewSession {
  sessionId: string;
  vaultUserId: string;
  expiresAt: number;
}

export interface UserMapping {
  email: string;
  vaultUserId: string;
  vaultUsername: string;
}

export interface SessionStore {
  /** True when other processes share this store (sessions are then not ended on close). */
  readonly shared: boolean;
  /**
   * Return the stored session for `key` if `usable` accepts it; otherwise call `login`, store and
   * return its result. Callers for the same (tenant, key) are serialised, across processes for a
   * shared store.
   */
  getOrCreate(
    tenant: Tenant,
    key: string,
    usable: (s: StoredSession) => boolean,
    login: () => Promise<NewSession>,
  ): Promise<StoredSession & { created: boolean }>;
  /** Record Vault activity (keeps other replicas from treating the session as idle-expired). */
  touch(tenant: Tenant, key: string, at: number): Promise<void>;
  /** Delete the session for `key`, only if it is still the one identified by `ref` (when given). */
  remove(tenant: Tenant, key: string, ref?: string): Promise<StoredSession | undefined>;
  getMapping(tenant: Tenant, subject: string): Promise<UserMapping | undefined>;
  putMapping(tenant: Tenant, subject: string, m: UserMapping): Promise<void>;
}

/**
 * A process-local store (stdio mode, single process). Logins are serialised per key with a promise chain.
 *
 * @example
 * const store = createMemorySessionStore();
 */
export function createMemorySessionStore(): SessionStore {
  const rows = new Map<string, StoredSession>();
  const maps = new Map<string, UserMapping>();
  const locks = new Map<string, Promise<unknown>>();
  let version = 0;
  const k = (t: Tenant, key: string) => `${t.id}\u0000${key}`;

  return {
    shared: false,
    async getOrCreate(tenant, key, usable, login) {
      const id = k(tenant, key);
      const prev = locks.get(id) ?? Promise.resolve();
      const run = prev
        .catch(() => undefined)
        .then(async () => {
          const cur = rows.get(id);
          if (cur && usable(cur)) return { ...cur, created: false };
          const s = await login();
          const now = Date.now();
          const stored: StoredSession = { ...s, createdAt: now, lastUsedAt: now, ref: String(++version) };
          rows.set(id, stored);
          return { ...stored, created: true };
        });
      locks.set(id, run);
      try {
        return await run;
      } finally {
        if (locks.get(id) === run) locks.delete(id);
      }
    },
    async touch(tenant, key, at) {
      const cur = rows.get(k(tenant, key));
      if (cur && at > cur.lastUsedAt) cur.lastUsedAt = at;
    },
    async remove(tenant, key, ref) {
      const id = k(tenant, key);
      const cur = rows.get(id);
      if (!cur || (ref !== undefined && cur.ref !== ref)) return undefined;
      rows.delete(id);
      return cur;
    },
    async getMapping(tenant, subject) {
      return maps.get(k(tenant, subject));
    },
    async putMapping(tenant, subject, m) {
      maps.set(k(tenant, subject), m);
    },
  };
}
