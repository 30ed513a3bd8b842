/**
 * Which Vault session a call needs, as a typed key, and the in-process cache of live sessions.
 *
 * A session belongs to (tenant, Vault URL, login mode, subject): the Vault URL is part of the key so
 * that after a tenant's Vault URL changes no session id of the old Vault is ever sent to the new
 * host (the old entries are dropped on the first call that sees the new URL). The subject is the
 * MCP user for per-user modes and null for the tenant's service account.
 *
 * @module
 */
import { LRUCache } from 'lru-cache';
import type { Tenant } from '../tenancy/tenant.js';
import type { StoredSession } from './session-store.js';

export type LoginKind = Tenant['vault']['auth']['mode'];

export interface SessionKey {
  readonly tenant: string;
  /** The tenant's Vault base URL at the time of the call (normalised, see {@link vaultUrlOf}). */
  readonly vaultUrl: string;
  readonly kind: LoginKind;
  /** The MCP subject for per-user sessions; null for the tenant's service-account session. */
  readonly subject: string | null;
}

// Parsed once per tenant settings object (the hot path asks on every call).
const normalised = new WeakMap<Tenant['vault'], string>();

/** The tenant's Vault URL as sessions are keyed by it: no trailing slash, host lower-cased. */
export function vaultUrlOf(tenant: Tenant): string {
  let url = normalised.get(tenant.vault);
  if (url === undefined) {
    const u = new URL(tenant.vault.url);
    url = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    normalised.set(tenant.vault, url);
  }
  return url;
}

/**
 * @example
 * const key = sessionKey(tenant, 'delegated', ctx.user.subject);
 */
export function sessionKey(tenant: Tenant, kind: LoginKind, subject: string | null): SessionKey {
  return { tenant: tenant.id, vaultUrl: vaultUrlOf(tenant), kind, subject };
}

const PREFIX: Record<LoginKind, string> = { service_account: 'sa', delegated: 'dg', oauth: 'oa' };

/**
 * The row key inside the tenant's own `vault_sessions` table (the tenant is the schema; the Vault URL
 * is a column): `sa`, `dg:<subject>` or `oa:<subject>`. Also bound into the ciphertext's AAD.
 */
export function rowKey(k: SessionKey): string {
  return k.subject === null ? PREFIX[k.kind] : `${PREFIX[k.kind]}:${k.subject}`;
}

/** A unique string for maps (NUL cannot occur in any part). */
export function keyId(k: SessionKey): string {
  return [k.tenant, k.vaultUrl, k.kind, k.subject ?? ''].join('\u0000');
}

/** A cached session with what the manager knows about it. */
export interface CachedSession extends StoredSession {
  key: SessionKey;
  tenant: Tenant;
  /** The Vault user name when known (service account: from the config; delegated: the user mapping). */
  vaultUsername?: string;
  /** Last tool call using it (keep-alive stops once a session is cold). */
  lastCallAt: number;
  lastPersistedAt: number;
  /** Opened by this process (ended on close when the store is process-local). */
  createdHere: boolean;
}

/**
 * @example
 * const cache = createSessionCache({ max: 10_000 });
 * cache.dropOtherVaults(tenant); // the tenant's Vault URL may have changed
 * const hit = cache.get(key);
 */
export function createSessionCache(opts: { max?: number } = {}) {
  // Bounded (VAULT_SESSION_CACHE_MAX): the least recently used are dropped; a shared store still has them.
  const entries = new LRUCache<string, CachedSession>({ max: opts.max ?? 10_000 });
  // The Vault URL last seen per tenant: the scan below runs only when it changes.
  const urls = new Map<string, string>();
  return {
    get: (k: SessionKey) => entries.get(keyId(k)),
    set: (s: CachedSession) => void entries.set(keyId(s.key), s),
    /** Forget `k`; with `ref`, only if the cached session is still that one. */
    delete(k: SessionKey, ref?: string): void {
      const id = keyId(k);
      if (ref === undefined || entries.get(id)?.ref === ref) entries.delete(id);
    },
    /** Drop the tenant's sessions opened on any other Vault URL; returns them. */
    dropOtherVaults(tenant: Tenant): CachedSession[] {
      const url = vaultUrlOf(tenant);
      if (urls.get(tenant.id) === url) return [];
      urls.set(tenant.id, url);
      const stale = [...entries.values()].filter((s) => s.key.tenant === tenant.id && s.key.vaultUrl !== url);
      for (const s of stale) entries.delete(keyId(s.key));
      return stale;
    },
    values: () => [...entries.values()],
    clear(): void {
      entries.clear();
      urls.clear();
    },
  };
}

export type SessionCache = ReturnType<typeof createSessionCache>;
