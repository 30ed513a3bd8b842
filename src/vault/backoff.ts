/**
 * How long to wait before retrying a rate-limited Vault call. Vault itself throttles by *delaying*
 * responses once the 5-minute burst limit is used up (`X-VaultAPI-ResponseDelay`), fails
 * `/auth` with `API_LIMIT_EXCEEDED` once the auth burst limit is used up, and proxies in front of it
 * may answer HTTP 429 with `Retry-After`. We honour the server's hint when there is one, else back
 * off exponentially with full jitter, and always cap the wait.
 *
 * @module
 */

export interface RateLimitState {
  /** X-VaultAPI-BurstLimit: calls allowed per burst window. */
  burstLimit?: number;
  /** X-VaultAPI-BurstLimitRemaining: calls left in the current 5-minute window. */
  burstRemaining?: number;
  /** X-VaultAPI-DailyLimitRemaining (API versions before v21.1 only). */
  dailyRemaining?: number;
  /** X-VaultAPI-ResponseDelay: ms Vault delayed the last throttled response. */
  responseDelayMs?: number;
}

/** Read Vault's limit headers from a response. */
export function readLimits(h: Headers): RateLimitState {
  const n = (name: string) => {
    const v = h.get(name);
    return v !== null && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
  };
  return {
    burstLimit: n('x-vaultapi-burstlimit'),
    burstRemaining: n('x-vaultapi-burstlimitremaining'),
    dailyRemaining: n('x-vaultapi-dailylimitremaining'),
    responseDelayMs: n('x-vaultapi-responsedelay'),
  };
}

/** Parse Retry-After (delta-seconds or HTTP date) into ms; undefined if absent or garbage. */
export function retryAfterMs(h: Headers, now = Date.now()): number | undefined {
  const v = h.get('retry-after')?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before retry number `attempt` (0-based).
 *
 * @example
 * await sleep(backoffDelay({ attempt, hintMs: retryAfterMs(res.headers), baseMs: 250, maxMs: 10_000 }));
 */
export function backoffDelay(p: {
  attempt: number;
  hintMs?: number;
  baseMs: number;
  maxMs: number;
  random?: () => number;
}): number {
  if (p.hintMs !== undefined) return Math.min(p.maxMs, p.hintMs);
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** p.attempt);
  return Math.round((p.random ?? Math.random)() * ceiling);
}
