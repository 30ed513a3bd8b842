/**
 * A small bounded LRU with a short TTL for Vault metadata (document types and fields, objects,
 * picklists), so the model can look up what a Vault contains on every turn without a Vault call each
 * time. Keys carry the tenant, the Vault URL and the Vault user: Vault hides fields a user may not
 * see (field-level security), so in `delegated` and `oauth` modes one user's metadata is never
 * served to another (in `service_account` mode every user is the same Vault user anyway).
 * Concurrent misses for one key share one Vault call.
 *
 * @module
 */
import { LRUCache } from 'lru-cache';

export interface MetadataCache {
  /** The cached value for `key`, or `load()`'s (cached on success only). */
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
  /** Entries held now (tests, metrics). */
  size(): number;
}

/**
 * @example
 * const cache = createMetadataCache({ ttlMs: 300_000, max: 1000 });
 * const types = await cache.get(`${tenant.id}|${url}|${user}|types`, () => client.documentTypes(sid));
 */
export function createMetadataCache(opts: { ttlMs?: number; max?: number; now?: () => number } = {}): MetadataCache {
  const now = opts.now ?? Date.now;
  // ttlResolution 0: read the clock on every check (the TTL is short and tests move the clock).
  const entries = new LRUCache<string, { value: Promise<unknown> }>({
    max: opts.max ?? 1000,
    ttl: opts.ttlMs ?? 5 * 60_000,
    ttlResolution: 0,
    perf: { now },
  });
  return {
    async get<T>(key: string, load: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit) return hit.value as Promise<T>;
      const entry = { value: load() };
      entries.set(key, entry);
      // A failure is not cached: the next call tries Vault again.
      entry.value.catch(() => {
        if (entries.peek(key) === entry) entries.delete(key);
      });
      return entry.value;
    },
    size: () => entries.size,
  };
}

/** The cache key for one Vault user's view of a piece of metadata. */
export function metadataKey(tenant: { id: string; vault: { url: string } }, vaultUser: string, what: string): string {
  return `${tenant.id}|${tenant.vault.url}|${vaultUser}|${what}`;
}
