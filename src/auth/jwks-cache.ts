/**
 * A remote JWKS with the failure behaviour jose's `createRemoteJWKSet` lacks: when the cached set is
 * older than `maxAgeMs` and the endpoint is down, jose throws on every request; this cache keeps
 * serving the last good keys (refreshing in the background) so an IdP outage does not log everyone
 * out. An unknown `kid` triggers at most one refetch per `cooldownMs` (successful or not), so a flood
 * of forged kids cannot turn us into a JWKS hammer. A cold start with the endpoint down fails closed
 * with `ERR_UPSTREAM_UNAVAILABLE` naming the provider.
 *
 * @module
 */
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../errors/index.js';
import { fetchUpstream, UpstreamError } from '../shared/fetch-upstream.js';
import { singleFlight } from '../shared/single-flight.js';

export interface JwksCacheOptions {
  /** Provider name used in error messages ("Google", "Auth0", an issuer URL…). */
  provider: string;
  /** The JWKS URL, or a function resolving it (OIDC discovery), called until it succeeds. */
  uri: string | (() => Promise<string>);
  /** Refresh the set after this long (default 10 min). */
  maxAgeMs?: number;
  /** Minimum time between two fetches caused by unknown kids or failures (default 30 s). */
  cooldownMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface JwksCache {
  /** Key resolver for jose's `jwtVerify`. */
  getKey: JWTVerifyGetKey;
  /** Number of fetch attempts made (diagnostics, tests). */
  fetches(): number;
}

const MAX_JWKS_BYTES = 512 * 1024;
const WHY = { timeout: 'timeout', network: 'network error', too_large: 'the key set is too large' } as const;

/**
 * @example
 * const jwks = createJwksCache({ provider: 'Google', uri: 'https://www.googleapis.com/oauth2/v3/certs' });
 * await jwtVerify(token, jwks.getKey, { issuer, audience });
 */
export function createJwksCache(opts: JwksCacheOptions): JwksCache {
  const maxAgeMs = opts.maxAgeMs ?? 600_000;
  const cooldownMs = opts.cooldownMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const doFetch = opts.fetch ?? fetch;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  let attemptedAt = -Infinity;
  const flight = singleFlight<void>();
  const pending = () => flight.pending('jwks');
  let attempts = 0;
  let resolvedUri = typeof opts.uri === 'string' ? opts.uri : undefined;
  // Without any keys, retry a failed fetch sooner than the kid cooldown: nobody can sign in meanwhile.
  const coldRetryMs = Math.min(cooldownMs, 5_000);

  const unavailable = (why: string, cause?: unknown) =>
    new AppError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `The signing keys of ${opts.provider} could not be fetched (${why}); try again shortly`,
      { retryAfter: Math.max(1, Math.ceil(coldRetryMs / 1000)) },
      { cause },
    );

  async function load(): Promise<void> {
    attempts++;
    attemptedAt = Date.now();
    // Discovery runs until it succeeds once; the JWKS URL does not change under a running issuer.
    if (!resolvedUri) {
      try {
        resolvedUri = await (opts.uri as () => Promise<string>)();
      } catch (e) {
        throw new AppError(
          'ERR_UPSTREAM_UNAVAILABLE',
          (e as Error).message,
          { retryAfter: Math.max(1, Math.ceil(coldRetryMs / 1000)) },
          { cause: e },
        );
      }
    }
    const uri = resolvedUri;
    let res: Response;
    let text: string;
    try {
      res = await fetchUpstream(uri, {
        upstream: 'the JWKS endpoint',
        timeoutMs,
        maxBytes: MAX_JWKS_BYTES,
        fetch: doFetch,
        redirect: 'manual',
        headers: { accept: 'application/json, application/jwk-set+json' },
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw unavailable(`HTTP ${res.status}`);
      }
      text = await res.text();
    } catch (e) {
      if (!(e instanceof UpstreamError)) throw e;
      throw unavailable(WHY[e.reason], e);
    }
    let next: ReturnType<typeof createLocalJWKSet>;
    try {
      next = createLocalJWKSet(JSON.parse(text) as JSONWebKeySet);
    } catch (e) {
      throw unavailable('the key set is not a valid JWKS', e);
    }
    local = next;
    fetchedAt = Date.now();
  }

  /** One fetch at a time; concurrent callers share it. */
  function refresh(): Promise<void> {
    return flight.run('jwks', load);
  }

  const coolingDown = () => Date.now() - attemptedAt < cooldownMs;

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!local) {
      // Cold start: nothing to fall back on. A failed attempt is retried after a short back-off.
      if (Date.now() - attemptedAt < coldRetryMs && !pending()) throw unavailable('the endpoint failed recently');
      await refresh();
    } else if (Date.now() - fetchedAt > maxAgeMs && !coolingDown()) {
      // Stale-while-revalidate: keep answering with the keys we have; a failure keeps the old set.
      refresh().catch(() => undefined);
    }
    try {
      return await local!(header, token);
    } catch (e) {
      if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      const running = pending();
      if (running) {
        // A refresh is already running (stale set): its result decides; if it fails we cannot tell
        // a rotated key from a forged one, so the answer is 503, not a misleading 401.
        await running;
        return local!(header, token);
      }
      if (coolingDown()) throw e;
      // Unknown kid: maybe the IdP rotated. One refetch per cooldown, then decide.
      await refresh();
      return local!(header, token);
    }
  };

  return { getKey, fetches: () => attempts };
}
