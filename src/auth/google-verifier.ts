/**
 * Google sign-in: ID tokens (JWTs, verified against Google's JWKS; `aud` must be one of our OAuth
 * client ids) and opaque access tokens (`ya29.…`, checked with a tokeninfo POST: `aud`/`azp` must be
 * one of our client ids, so a token issued to another app is refused). Both require a verified email;
 * with hosted domains configured, the Workspace domain (`hd`) must be one of them.
 *
 * Google tokens carry no vault scopes: callers get the configured default scopes.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import { AppError, AuthError } from '../errors/index.js';
import { fetchUpstream } from '../shared/fetch-upstream.js';
import type { IssuerVerifier, OpaqueVerifier } from './create-verifier.js';
import { createOidcVerifier } from './oidc-verifier.js';
import { cachedIntrospection } from './opaque-cache.js';
import type { UserContext } from './types.js';

export const GOOGLE_ISSUER = 'https://accounts.google.com';

export interface GoogleOptions {
  clientIds: string[];
  jwksUri: string;
  tokeninfoUrl: string;
  /** When non-empty, the account's `hd` must be one of these. */
  hostedDomains: string[];
  defaultScopes: string[];
  clockSkewSeconds: number;
  cacheTtlMs: number;
  negativeCacheTtlMs: number;
  /** Bound on cached results (IDENTITY_CACHE_MAX). */
  cacheMaxEntries?: number;
  jwksMaxAgeMs?: number;
  jwksCooldownMs?: number;
  fetch?: typeof fetch;
}

/**
 * Build both Google verifiers.
 *
 * @example
 * const google = createGoogleVerifiers({ clientIds, jwksUri, tokeninfoUrl, hostedDomains: [], defaultScopes: ['vault:read'], … });
 * createTokenVerifier({ jwt: [google.idTokens], opaque: [google.accessTokens], maxTokenBytes });
 */
export function createGoogleVerifiers(opts: GoogleOptions): { idTokens: IssuerVerifier; accessTokens: OpaqueVerifier } {
  const doFetch = opts.fetch ?? fetch;

  const checkAccount = (claims: Record<string, unknown>, kind: string) => {
    if (typeof claims.email !== 'string' || !claims.email) {
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The Google ${kind} carries no email; request the 'email' scope`);
    }
    // A JWT's claim must be the boolean true. Google's tokeninfo endpoint (opaque access tokens)
    // answers every value as a JSON string (`"email_verified": "true"`, `"exp": "1700000000"`), so
    // there, and only there, the exact string "true" means verified.
    const verified = claims.email_verified === true || (kind === 'access token' && claims.email_verified === 'true');
    if (!verified) {
      throw new AuthError('ERR_AUTH_EMAIL_UNVERIFIED', `The Google account email ${claims.email} is not verified`);
    }
    if (opts.hostedDomains.length) {
      if (typeof claims.hd !== 'string') {
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          kind === 'access token'
            ? 'This server requires a Google Workspace domain (hd), which Google access tokens do not prove; send a Google ID token'
            : `The Google account is not in a Google Workspace domain (no hd claim); allowed: ${opts.hostedDomains.join(', ')}`,
        );
      }
      if (!opts.hostedDomains.includes(claims.hd.toLowerCase())) {
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          `The Google Workspace domain (hd) '${claims.hd}' is not allowed; allowed: ${opts.hostedDomains.join(', ')}`,
        );
      }
    }
    return { email: claims.email, hostedDomain: typeof claims.hd === 'string' ? claims.hd : undefined };
  };

  const idTokens = createOidcVerifier({
    issuer: GOOGLE_ISSUER,
    issuerAliases: ['accounts.google.com'],
    audience: opts.clientIds,
    jwksUri: opts.jwksUri,
    algorithms: ['RS256'],
    clockSkewSeconds: opts.clockSkewSeconds,
    provider: 'google',
    requiredClaims: ['exp', 'iat', 'sub', 'aud'],
    jwksMaxAgeMs: opts.jwksMaxAgeMs,
    jwksCooldownMs: opts.jwksCooldownMs,
    fetch: doFetch,
    toUser: (claims: JWTPayload, base: UserContext): UserContext => {
      const { email, hostedDomain } = checkAccount(claims, 'ID token');
      return {
        ...base,
        subject: `google:${claims.sub}`,
        issuer: GOOGLE_ISSUER,
        email,
        emailVerified: true,
        hostedDomain,
        scopes: [...opts.defaultScopes],
        clientId: typeof claims.azp === 'string' ? claims.azp : String(claims.aud),
      };
    },
  });

  async function tokeninfo(token: string): Promise<UserContext> {
    const res = await fetchUpstream(opts.tokeninfoUrl, {
      upstream: 'Google tokeninfo',
      timeoutMs: 5000,
      fetch: doFetch,
      method: 'POST',
      // POST keeps the token out of URLs (and so out of every proxy log).
      body: new URLSearchParams({ access_token: token }),
      headers: { accept: 'application/json' },
    });
    if (res.status === 400 || res.status === 401) {
      await res.body?.cancel();
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'Google rejected the access token (invalid, expired or revoked)');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError('ERR_UPSTREAM_UNAVAILABLE', `Google tokeninfo answered HTTP ${res.status}; try again shortly`);
    }
    const info = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    const aud = typeof info.aud === 'string' ? info.aud : undefined;
    const azp = typeof info.azp === 'string' ? info.azp : undefined;
    // The token must have been issued to one of OUR clients: the confused-deputy check.
    if (!(aud && opts.clientIds.includes(aud)) && !(azp && opts.clientIds.includes(azp))) {
      throw new AuthError(
        'ERR_AUTH_INVALID_TOKEN',
        `The Google access token was issued to another client (aud/azp '${aud ?? azp ?? ''}'); expected ${opts.clientIds.join(' or ')}`,
      );
    }
    const exp = Number(info.exp);
    if (!Number.isFinite(exp) || exp * 1000 <= Date.now())
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The Google access token has expired (exp)');
    if (typeof info.sub !== 'string' || !info.sub)
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'Google tokeninfo returned no subject (sub)');
    const { email, hostedDomain } = checkAccount(info, 'access token');
    return {
      subject: `google:${info.sub}`,
      provider: 'google',
      issuer: GOOGLE_ISSUER,
      email,
      emailVerified: true,
      hostedDomain,
      scopes: [...opts.defaultScopes],
      clientId: azp ?? aud ?? '',
      expiresAt: exp,
    };
  }

  return {
    idTokens,
    accessTokens: {
      provider: 'google',
      verify: cachedIntrospection(tokeninfo, {
        ttlMs: opts.cacheTtlMs,
        negativeTtlMs: opts.negativeCacheTtlMs,
        maxEntries: opts.cacheMaxEntries,
      }),
    },
  };
}
