/**
 * Cache for token verification results: opaque-token introspection (Google tokeninfo, GitHub /user)
 * and verified JWTs (the dispatcher, `JWT_CACHE_SECONDS`). Keyed by the SHA-256 of the token (the
 * token itself is never kept); positive results live until `ttlMs` or the token's expiry, whichever
 * comes first; refusals (AuthError) are cached briefly so a bad token cannot make us hammer the
 * provider (or the CPU). Upstream outages are not cached. Concurrent lookups of one token share one
 * call. Bounded: the least recently used entries are evicted first.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { AuthError } from '../errors/index.js';
import { singleFlight } from '../shared/single-flight.js';
import type { UserContext } from './types.js';

export interface OpaqueCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  /** Bound on entries; the least recently used are evicted first. */
  maxEntries?: number;
}

type Entry = { until: number; user?: UserContext; error?: AuthError };

/**
 * Wrap an introspection function with the cache.
 *
 * @example
 * const verify = cachedIntrospection((t) => callTokenInfo(t), { ttlMs: 300_000, negativeTtlMs: 30_000 });
 */
export function cachedIntrospection(
  introspect: (token: string) => Promise<UserContext>,
  opts: OpaqueCacheOptions,
): (token: string) => Promise<UserContext> {
  const max = opts.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const inflight = singleFlight<UserContext>();

  const put = (key: string, e: Entry) => {
    entries.delete(key);
    if (entries.size >= max) entries.delete(entries.keys().next().value!);
    entries.set(key, e);
  };

  return async (token) => {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && hit.until > now) {
      if (hit.error) throw hit.error;
      // Refresh recency (Map order is the LRU order).
      entries.delete(key);
      entries.set(key, hit);
      return hit.user!;
    }
    if (hit) entries.delete(key);
    return inflight.run(key, () =>
      introspect(token).then(
        (user) => {
          put(key, { user, until: Math.min(Date.now() + opts.ttlMs, user.expiresAt * 1000) });
          return user;
        },
        (e: unknown) => {
          if (e instanceof AuthError) put(key, { error: e, until: Date.now() + opts.negativeTtlMs });
          throw e;
        },
      ),
    );
  };
}
