/**
 * GitHub Actions OIDC tokens (workflow identity for CI jobs). Any workflow on GitHub can mint a token
 * for any audience, so the audience alone proves nothing: the `repository` claim must also be on an
 * allow-list (`owner/repo` or `owner/*`). The identity is bound to one tenant (no email), and gets
 * the configured scopes.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import { AuthError } from '../errors/index.js';
import { createOidcVerifier, type JwtIssuerVerifier } from './oidc-verifier.js';
import type { UserContext } from './types.js';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

export interface GithubActionsOptions {
  issuer: string;
  audience: string;
  /** `owner/repo` or `owner/*`, lower-case. */
  repositories: string[];
  tenantId: string;
  scopes: string[];
  clockSkewSeconds: number;
  jwksUri?: string;
  jwksMaxAgeMs?: number;
  jwksCooldownMs?: number;
  fetch?: typeof fetch;
}

/**
 * @example
 * const actions = createGithubActionsVerifier({ issuer: GITHUB_ACTIONS_ISSUER, audience: 'vault-mcp', repositories: ['acme/*'], tenantId: 'acme', … });
 */
export function createGithubActionsVerifier(opts: GithubActionsOptions): JwtIssuerVerifier {
  const allowed = (repo: string) => {
    const r = repo.toLowerCase();
    return opts.repositories.some((p) => (p.endsWith('/*') ? r.startsWith(p.slice(0, -1)) : r === p));
  };
  return createOidcVerifier({
    issuer: opts.issuer,
    audience: opts.audience,
    jwksUri: opts.jwksUri,
    algorithms: ['RS256'],
    clockSkewSeconds: opts.clockSkewSeconds,
    provider: 'github-actions',
    requiredClaims: ['exp', 'iat', 'sub', 'repository'],
    jwksMaxAgeMs: opts.jwksMaxAgeMs,
    jwksCooldownMs: opts.jwksCooldownMs,
    fetch: opts.fetch,
    toUser: (claims: JWTPayload, base: UserContext): UserContext => {
      const repo = String(claims.repository);
      if (!allowed(repo)) {
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          `The GitHub Actions repository '${repo.slice(0, 200)}' is not allowed (GITHUB_ACTIONS_REPOSITORIES)`,
        );
      }
      return {
        ...base,
        subject: `github-actions:${claims.sub}`,
        email: undefined,
        emailVerified: false,
        scopes: [...opts.scopes],
        clientId: repo,
        tenantId: opts.tenantId,
      };
    },
  });
}
