/**
 * Token-bucket rate limiting in memory: each key (a tenant) gets `burst` tokens refilled at
 * `perMinute`. On its own it is per replica (N replicas allow N× the limit); production shares the
 * budget through a store (rate-limit-shared.ts) and keeps this one as the fallback when the store is
 * down. See docs/operations.md.
 *
 * @module
 */

export interface RateLimiter {
  /** Take `count` (default 1) tokens for `key`: 0 when allowed, else the seconds until they are available. */
  take(key: string, count?: number): number | Promise<number>;
}

/**
 * @example
 * const limiter = createRateLimiter({ perMinute: 1200, burst: 200 });
 * const wait = limiter.take(`t:${tenant.id}`);
 * if (wait) throw new AppError('ERR_RATE_LIMITED', '…', { retryAfter: wait });
 */
export function createRateLimiter(opts: { perMinute: number; burst: number; now?: () => number; maxKeys?: number }): {
  take(key: string, count?: number): number;
} {
  const perMs = opts.perMinute / 60_000;
  const capacity = Math.max(1, opts.burst);
  const now = opts.now ?? (() => performance.now());
  const maxKeys = opts.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const refill = (b: { tokens: number; at: number }, t: number) => {
    b.tokens = Math.min(capacity, b.tokens + (t - b.at) * perMs);
    b.at = t;
  };

  return {
    take(key, count = 1) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        // Bound memory under many distinct keys: forget buckets that have refilled completely.
        if (buckets.size >= maxKeys) {
          for (const [k, v] of buckets) {
            refill(v, t);
            if (v.tokens >= capacity) buckets.delete(k);
          }
        }
        b = { tokens: capacity, at: t };
        buckets.set(key, b);
      } else {
        refill(b, t);
      }
      if (b.tokens >= count) {
        b.tokens -= count;
        return 0;
      }
      // More than the burst can never be taken at once: answer the time to a full bucket.
      return Math.max(1, Math.ceil((Math.min(count, capacity) - b.tokens) / perMs / 1000));
    },
  };
}
