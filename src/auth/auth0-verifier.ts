/**
 * Auth0 access tokens (JWT, RS256/PS256; HS256 is refused as for every issuer). The issuer is
 * `https://<AUTH0_DOMAIN>/` (trailing slash, as Auth0 writes it), keys come from
 * `<issuer>.well-known/jwks.json`, the audience is the Auth0 API identifier (default: our resource).
 * Scopes are the union of `scope` and the RBAC `permissions` claim. Auth0 access tokens carry the
 * user's email only as namespaced custom claims (`<namespace>email`, `<namespace>email_verified`),
 * added by an Auth0 Action; a plain `email` claim is read too.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import { claimScopes, createOidcVerifier, type JwtIssuerVerifier } from './oidc-verifier.js';
import type { UserContext } from './types.js';

export interface Auth0Options {
  /** `https://<tenant>.auth0.com/` (or an override for tests / custom domains). */
  issuer: string;
  audience: string;
  /** Prefix of the custom claims, e.g. `https://vault-mcp/`. */
  claimsNamespace: string;
  algorithms: string[];
  clockSkewSeconds: number;
  jwksMaxAgeMs?: number;
  jwksCooldownMs?: number;
  fetch?: typeof fetch;
}

/**
 * @example
 * const auth0 = createAuth0Verifier({ issuer: 'https://acme.eu.auth0.com/', audience: resource, claimsNamespace: 'https://vault-mcp/', … });
 */
export function createAuth0Verifier(opts: Auth0Options): JwtIssuerVerifier {
  const ns = opts.claimsNamespace;
  return createOidcVerifier({
    issuer: opts.issuer,
    audience: opts.audience,
    jwksUri: `${opts.issuer.replace(/\/*$/, '/')}.well-known/jwks.json`,
    algorithms: opts.algorithms,
    clockSkewSeconds: opts.clockSkewSeconds,
    provider: 'auth0',
    jwksMaxAgeMs: opts.jwksMaxAgeMs,
    jwksCooldownMs: opts.jwksCooldownMs,
    fetch: opts.fetch,
    scopes: (claims: JWTPayload) => {
      const perms = Array.isArray(claims.permissions)
        ? claims.permissions.filter((p): p is string => typeof p === 'string')
        : [];
      return [...new Set([...claimScopes(claims), ...perms])];
    },
    toUser: (claims: JWTPayload, base: UserContext): UserContext => {
      const email = claims[`${ns}email`] ?? claims.email;
      const verified = claims[`${ns}email_verified`] ?? claims.email_verified;
      return {
        ...base,
        subject: `auth0:${claims.sub}`,
        email: typeof email === 'string' ? email : undefined,
        emailVerified: verified === true,
      };
    },
  });
}
