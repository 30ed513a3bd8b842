/**
 * Access tokens of our own authorization server (`src/oauth`), dispatched by `iss` like every other
 * issuer and verified in full by the same JWT verifier (signature with our published keys, algorithm,
 * `iss`, `aud` = this resource, `exp`/`nbf`/`iat`), plus what only we can check:
 * - `typ: at+jwt` (RFC 9068), so no other JWT we might sign is accepted as an access token;
 * - the grant is still active (revoked by the CLI, a code replay or a refresh-token reuse → refused);
 * - the user's email domain still maps to the tenant the token names (a domain or tenant removed →
 *   refused by the tenant resolver; moved to another tenant → refused here);
 * - a tenant that requires its own IdP refuses tokens of grants signed in through another provider.
 * Results are cached by the dispatcher's JWT cache (JWT_CACHE_SECONDS) under their grant id: ending a
 * grant, by any path, notifies {@link OAUTH_GRANTS_CHANNEL} (migration 0150) and every replica drops the
 * grant's tokens at once. While a replica is not certainly listening, it trusts a cached result for
 * a few seconds at most (`from-config.ts`). Tenant changes (a domain moved, SSO required) are not
 * notified: they reach cached tokens within JWT_CACHE_SECONDS (and at the grant's next refresh).
 *
 * @module
 */
import { decodeProtectedHeader, type JWTVerifyGetKey } from 'jose';
import { AuthError } from '../errors/index.js';
import { signInProviderProblem, type Tenant } from '../tenancy/tenant.js';
import type { IssuerVerifier } from './create-verifier.js';
import { claimScopes, createOidcVerifier } from './oidc-verifier.js';
import type { Provider, UserContext } from './types.js';

/** The channel migration 0150's trigger notifies with a grant id when the grant ends ('*' after a TRUNCATE). */
export const OAUTH_GRANTS_CHANNEL = 'vault_mcp_oauth_grants';

export interface OwnIssuerVerifierOptions {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
  algorithms: string[];
  clockSkewSeconds: number;
  /** The grant's state: undefined when unknown, else its revocation (null when active) and its upstream. */
  grantStatus: (
    grantId: string,
  ) => Promise<{ revokedReason: string | null; revoked: boolean; upstream: string } | undefined>;
  resolveTenant: (user: UserContext) => Promise<Tenant>;
}

/**
 * @example
 * jwt.push(createOwnIssuerVerifier({ issuer, audience: resource, keys: oauth.keys.getKey, … }));
 */
export function createOwnIssuerVerifier(opts: OwnIssuerVerifierOptions): IssuerVerifier {
  const inner = createOidcVerifier({
    issuer: opts.issuer,
    audience: opts.audience,
    keys: opts.keys,
    algorithms: opts.algorithms,
    clockSkewSeconds: opts.clockSkewSeconds,
    requiredClaims: ['exp', 'iat', 'sub', 'jti', 'email', 'tenant', 'client_id', 'grant_id', 'idp', 'idp_iss'],
    toUser: (claims, base) => ({
      ...base,
      subject: String(claims.sub),
      provider: String(claims.idp) as Provider,
      issuer: String(claims.idp_iss),
      email: String(claims.email),
      emailVerified: claims.email_verified === true,
      scopes: claimScopes(claims),
      clientId: String(claims.client_id),
      hostedDomain: typeof claims.hd === 'string' ? claims.hd : undefined,
      grantId: String(claims.grant_id),
      // The tenant claim is checked below against the email's current tenant, not trusted as a binding.
    }),
  });
  return {
    issuers: inner.issuers,
    async verify(token) {
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        // A token naming our issuer with a header that is not base64url JSON: a 401, not a 500.
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token is not a well-formed JWT');
      }
      if (header.typ !== 'at+jwt')
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          "The token is not an access token of this server (typ is not 'at+jwt')",
        );
      const { user, claims } = await inner.verifyWithClaims(token);
      const status = await opts.grantStatus(user.grantId!);
      if (!status) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The grant behind this token does not exist');
      if (status.revoked)
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          `The grant behind this token was revoked (${status.revokedReason ?? 'revoked'}); authorize again`,
        );
      const tenant = await opts.resolveTenant(user);
      if (tenant.id !== claims.tenant)
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          `The token was issued for tenant '${String(claims.tenant)}', but ${user.email} now belongs to '${tenant.id}'; authorize again`,
        );
      const sso = signInProviderProblem(tenant, status.upstream);
      if (sso) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `${sso}; authorize again`);
      return user;
    },
  };
}
