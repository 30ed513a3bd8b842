/**
 * Where Vault sessions live between calls. Two implementations: Postgres (the tenant's
 * `vault_sessions` table, shared by every replica, see session-store-pg.ts) and memory (stdio mode,
 * which has no database). Both serialise logins per session key: `getOrCreate` runs `login` only
 * when no usable session is stored, so concurrent callers log in once. A stored session is only ever
 * returned for the Vault URL it was opened on.
 *
 * @module
 */
import type { Tenant } from '../tenancy/tenant.js';
import { keyId, vaultUrlOf, type SessionKey } from './session-cache.js';

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
   * return its result. Callers for the same key are serialised, across processes for a shared
   * store; no database connection is held while `login` runs.
   */
  getOrCreate(
    tenant: Tenant,
    key: SessionKey,
    usable: (s: StoredSession) => boolean,
    login: () => Promise<NewSession>,
  ): Promise<StoredSession & { created: boolean }>;
  /** Record Vault activity (keeps other replicas from treating the session as idle-expired). */
  touch(tenant: Tenant, key: SessionKey, at: number): Promise<void>;
  /** Delete the session for `key`, only if it is still the one identified by `ref` (when given). */
  remove(tenant: Tenant, key: SessionKey, ref?: string): Promise<StoredSession | undefined>;
  /** The subject's Vault user, if it was looked up on the tenant's current Vault URL. */
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
  const maps = new Map<string, UserMapping & { vaultUrl: string }>();
  const locks = new Map<string, Promise<unknown>>();
  let version = 0;
  const mapId = (t: Tenant, subject: string) => `${t.id}\u0000${subject}`;

  return {
    shared: false,
    async getOrCreate(_tenant, key, usable, login) {
      const id = keyId(key);
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
    touch(_tenant, key, at) {
      const cur = rows.get(keyId(key));
      if (cur && at > cur.lastUsedAt) cur.lastUsedAt = at;
      return Promise.resolve();
    },
    remove(_tenant, key, ref) {
      const id = keyId(key);
      const cur = rows.get(id);
      if (!cur || (ref !== undefined && cur.ref !== ref)) return Promise.resolve(undefined);
      rows.delete(id);
      return Promise.resolve(cur);
    },
    getMapping(tenant, subject) {
      const m = maps.get(mapId(tenant, subject));
      if (!m || m.vaultUrl !== vaultUrlOf(tenant)) return Promise.resolve(undefined);
      const { vaultUrl: _u, ...mapping } = m;
      return Promise.resolve(mapping);
    },
    putMapping(tenant, subject, m) {
      maps.set(mapId(tenant, subject), { ...m, vaultUrl: vaultUrlOf(tenant) });
      return Promise.resolve();
    },
  };
}
