/**
 * Cache for token verification results: opaque-token introspection (Google tokeninfo, GitHub /user)
 * and verified JWTs (the dispatcher, `JWT_CACHE_SECONDS`). Keyed by the SHA-256 of the token (the
 * token itself is never kept); positive results live until `ttlMs` or the token's expiry, whichever
 * comes first; refusals (AuthError) are cached briefly so a bad token cannot make us hammer the
 * provider (or the CPU). Upstream outages are not cached. Concurrent lookups of one token share one
 * call. Bounded: the least recently used entries are evicted first.
 *
 * Results that can be revoked before they expire (our own access tokens: their grant) are dropped
 * when a notification names their revocation key, and are trusted for `ttlMs` only while those
 * notifications are certainly heard; see {@link RevocableResults}.
 *
 * @module
 */
import { hash as oneShotHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { NotifyListener } from '../db/notify-listener.js';
import { AuthError } from '../errors/index.js';
import { singleFlight } from '../shared/single-flight.js';
import type { UserContext } from './types.js';

export interface OpaqueCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  /** Bound on entries; the least recently used are evicted first. */
  maxEntries?: number;
  revocable?: RevocableResults;
}

/**
 * Revocation by notification. A result whose `keyOf` is defined is dropped as soon as `listener`
 * delivers that key on `channel` (or `'*'`, which drops every revocable result: also sent when the
 * listener loses or regains its connection). It is kept for `ttlMs` only if the listener was listening
 * from before its verification started until it ended, in one connection; otherwise (no listener, or
 * down: a revocation could go unheard) for at most `unheardTtlMs`. A verification that a notification
 * overtook is not cached at all: it may have read the state from before the revocation.
 */
export interface RevocableResults {
  /** The revocation key of a result (a grant id), undefined for results not revoked this way. */
  keyOf: (user: UserContext) => string | undefined;
  listener: NotifyListener | undefined;
  channel: string;
  unheardTtlMs: number;
}

type Entry = {
  until: number;
  user?: UserContext;
  error?: AuthError;
  /** The revocation key of a revocable result. */
  revocable?: string;
  /** The listener generation a result kept for the full TTL was verified in. */
  heardIn?: number;
};

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
  const inflight = singleFlight<UserContext>();
  const rev = opts.revocable;
  const listener = rev?.listener;
  /** Revocation key → hashes of the cached results it revokes. */
  const byKey = new Map<string, Set<string>>();
  /** Counts notifications: a verification during which it moved is not cached. */
  let notified = 0;
  // Bounded: the least recently used entries are evicted first; whatever removes an entry (eviction,
  // replacement, drop) also removes it from its revocation key's index.
  const entries = new LRUCache<string, Entry>({
    max: opts.maxEntries ?? 10_000,
    dispose: (e, hash) => {
      if (e.revocable === undefined) return;
      const hashes = byKey.get(e.revocable);
      hashes?.delete(hash);
      if (!hashes?.size) byKey.delete(e.revocable);
    },
  });

  const drop = (hash: string) => entries.delete(hash);
  const put = (hash: string, e: Entry) => {
    entries.set(hash, e);
    if (e.revocable === undefined) return;
    const hashes = byKey.get(e.revocable);
    if (hashes) hashes.add(hash);
    else byKey.set(e.revocable, new Set([hash]));
  };
  const heard = (generation: number) => listener!.listening && listener!.generation === generation;

  listener?.on((channel, key) => {
    if (channel !== rev!.channel && channel !== '*') return;
    notified++;
    for (const k of key === '*' ? [...byKey.keys()] : [key]) for (const hash of [...(byKey.get(k) ?? [])]) drop(hash);
  });

  return async (token) => {
    // One-shot hash: no Hash object per request.
    const key = oneShotHash('sha256', token, 'base64url');
    const now = Date.now();
    const hit = entries.get(key); // also marks it recently used
    if (hit && hit.until > now && (hit.heardIn === undefined || heard(hit.heardIn))) {
      if (hit.error) throw hit.error;
      return hit.user!;
    }
    if (hit) drop(key);
    // After a notification, a caller does not join a verification started before it.
    const seen = notified;
    const generation = listener?.generation;
    return inflight.run(rev ? `${key}|${seen}` : key, () =>
      introspect(token).then(
        (user) => {
          const until = Math.min(Date.now() + opts.ttlMs, user.expiresAt * 1000);
          const revocable = rev?.keyOf(user);
          if (revocable === undefined) put(key, { user, until });
          // One a notification overtook may have read the state from before a revocation: not cached.
          else if (notified === seen) {
            if (generation !== undefined && heard(generation))
              put(key, { user, until, revocable, heardIn: generation });
            else if (rev!.unheardTtlMs > 0)
              put(key, { user, until: Math.min(until, Date.now() + rev!.unheardTtlMs), revocable });
          }
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
