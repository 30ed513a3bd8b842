/**
 * The upstream access token behind one of our grants, for the `oauth` Vault mode's RFC 8693 exchange,
 * renewed when it has expired or is about to: one refresh per grant at a time (single flight in this
 * process, the grant's row lock across replicas), at the provider that signed the user in, with the
 * rotated tokens stored back encrypted. When the token cannot be renewed (no refresh token, the
 * upstream refuses, the provider is gone) the caller gets a `SignInAgainError` (401
 * `ERR_UPSTREAM_SIGN_IN_REQUIRED`): the user must sign in again. An upstream that cannot be reached
 * is an `ERR_UPSTREAM_UNAVAILABLE` once the token has actually expired; until then the token still
 * in hand is used.
 *
 * @module
 */
import { isAppError, SignInAgainError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { singleFlight } from '../shared/single-flight.js';
import type { GrantStore } from './grants.js';
import type { UpstreamRegistry, UpstreamTokens } from './upstream/types.js';

/** Renew this long before expiry: a tenth of the token's lifetime, at most a minute. */
const MAX_MARGIN_SECONDS = 60;

/** True when `t` has expired or expires within the margin (tokens without an expiry never are). */
export function renewalDue(t: UpstreamTokens, nowSeconds: number): boolean {
  if (t.expiresAt === undefined) return false;
  const lifetime = t.obtainedAt === undefined ? 0 : t.expiresAt - t.obtainedAt;
  const margin = lifetime > 0 ? Math.min(MAX_MARGIN_SECONDS, lifetime / 10) : MAX_MARGIN_SECONDS;
  return nowSeconds >= t.expiresAt - margin;
}

export interface UpstreamTokenSourceDeps {
  grants: Pick<GrantStore, 'get' | 'upstreamTokens' | 'updateUpstreamTokens'>;
  upstreams: Pick<UpstreamRegistry, 'get'>;
  log?: Logger;
  /** Called once per renewal attempt (metrics). */
  onRenewal?: (outcome: 'ok' | 'denied' | 'error', reason?: string) => void;
  now?: () => number;
}

/**
 * @example
 * const upstreamTokens = createUpstreamTokenSource({ grants, upstreams });
 * const subjectToken = await upstreamTokens.accessToken(user.grantId);
 */
export function createUpstreamTokenSource(deps: UpstreamTokenSourceDeps) {
  const nowSeconds = () => (deps.now ?? Date.now)() / 1000;
  const flights = singleFlight<UpstreamTokens | undefined>();

  /** Under the grant's row lock: renew unless another replica already did. */
  async function renew(grantId: string): Promise<UpstreamTokens | undefined> {
    // Looked up before the lock is taken: the transaction holds one pool connection, no second.
    const grant = await deps.grants.get(grantId);
    const provider = grant && (await deps.upstreams.get(grant.upstream));
    return deps.grants.updateUpstreamTokens(grantId, async (current) => {
      if (!renewalDue(current, nowSeconds())) return undefined;
      if (!provider)
        throw new SignInAgainError(
          `The identity provider this sign-in was made with (${grant?.upstream ?? 'unknown'}) is no longer configured, so the sign-in cannot be renewed. Sign in again`,
          'provider_changed',
        );
      if (!current.refreshToken)
        throw new SignInAgainError(
          `${provider.displayName} issued no refresh token with this sign-in, so it cannot be renewed. Sign in again`,
          'no_refresh_token',
        );
      if (!provider.refresh)
        throw new SignInAgainError(
          `Sign-ins with ${provider.displayName} cannot be renewed here. Sign in again`,
          'not_refreshable',
        );
      const renewed = await provider.refresh(current);
      deps.log?.info({ grant: grantId, upstream: provider.id }, 'upstream token renewed');
      return renewed;
    });
  }

  return {
    /**
     * The grant's upstream access token, renewed first when it is due; undefined when the grant keeps
     * none (not an `oauth`-mode tenant) or was revoked.
     */
    async accessToken(grantId: string): Promise<string | undefined> {
      const stored = await deps.grants.upstreamTokens(grantId);
      if (!stored || !renewalDue(stored, nowSeconds())) return stored?.accessToken;
      try {
        const renewed = await flights.run(grantId, () => renew(grantId));
        deps.onRenewal?.('ok');
        return renewed?.accessToken;
      } catch (e) {
        if (e instanceof SignInAgainError) {
          deps.onRenewal?.('denied', e.reason);
          deps.log?.warn({ grant: grantId, reason: e.reason }, 'upstream token cannot be renewed: sign in again');
          throw e;
        }
        deps.onRenewal?.('error', isAppError(e) ? e.code : 'ERR_INTERNAL');
        // An outage (or a bad answer) while the token in hand is still valid: use it, retry next time.
        if (stored.expiresAt !== undefined && stored.expiresAt > nowSeconds()) {
          deps.log?.warn({ grant: grantId, err: (e as Error).message }, 'upstream token renewal failed; using it');
          return stored.accessToken;
        }
        throw e;
      }
    },
  };
}

export type UpstreamTokenSource = ReturnType<typeof createUpstreamTokenSource>;
