/**
 * Token-bucket rate limiting, in memory per replica: each key (a tenant, or a subject when no tenant
 * is known) gets `burst` tokens refilled at `perMinute`. With N replicas behind a load balancer the
 * effective limit is up to N× the configured one; see docs/operations.md.
 *
 * @module
 */

export interface RateLimiter {
  /** Take one token for `key`: 0 when allowed, else the seconds until a token is available. */
  take(key: string): number;
}

/**
 * @example
 * const limiter = createRateLimiter({ perMinute: 1200, burst: 200 });
 * const wait = limiter.take(`t:${tenant.id}`);
 * if (wait) throw new AppError('ERR_RATE_LIMITED', '…', { retryAfter: wait });
 */
export function createRateLimiter(opts: {
  perMinute: number;
  burst: number;
  now?: () => number;
  maxKeys?: number;
}): RateLimiter {
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
    take(key) {
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
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
    },
  };
}
