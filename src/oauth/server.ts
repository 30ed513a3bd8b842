/**
 * The OAuth 2.1 authorization server, framework-free: each endpoint takes the request's values and
 * returns what to answer (`src/http/oauth-routes.ts` maps that to Express). Flow:
 *
 *   /authorize → validate client, redirect_uri (page on error, never a redirect), PKCE S256, state,
 *   resource, scopes (errors redirect to the client) → a sign-in bound to this browser → the upstream
 *   (one provider: straight there; several: a chooser with email home-realm discovery) → /oauth/callback/<provider>
 *   (its own path per upstream; state, nonce, PKCE towards the upstream; identity rules and tenant resolution) → consent page
 *   (user, unverified client name, redirect host, scopes; POST with CSRF token + browser cookie) → code.
 *   /oauth/token → codes (single use, ≤ 60 s, replay revokes the grant) and rotating refresh tokens
 *   (reuse revokes the grant) → our own short-lived JWT access tokens.
 *
 * @module
 */
import { createAuthorizeEndpoints } from './authorize.js';
import { createCore, type OAuthServerDeps } from './core.js';
import { createTokenEndpoints } from './token.js';

export { subjectOf, type JsonOutcome, type OAuthServerConfig, type OAuthServerDeps, type Outcome } from './core.js';

/**
 * @example
 * const oauth = createOAuthServer({ config, pool, cipher, upstreams, resolveTenant, log });
 */
export function createOAuthServer(deps: OAuthServerDeps) {
  const core = createCore(deps);
  const { c, keys, grants, clients, upstreamTokens } = core;
  const browser = createAuthorizeEndpoints(core);
  const tokens = createTokenEndpoints(core);

  function metadata() {
    return {
      issuer: c.issuer,
      authorization_endpoint: `${c.issuer}/authorize`,
      token_endpoint: `${c.issuer}/oauth/token`,
      ...(c.dcr.enabled ? { registration_endpoint: `${c.issuer}/oauth/register` } : {}),
      revocation_endpoint: `${c.issuer}/oauth/revoke`,
      jwks_uri: `${c.issuer}/oauth/jwks`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      scopes_supported: c.scopesSupported,
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: c.cimd.enabled,
    };
  }

  return {
    metadata,
    ...browser,
    ...tokens,
    keys,
    grants,
    clients,
    /** The upstream access token of a grant (`oauth` Vault mode), renewed when due. */
    upstreamTokens,
    /** The access-token lifetime (the verifier's grant-status cache may not exceed it). */
    config: c,
  };
}

export type OAuthServer = ReturnType<typeof createOAuthServer>;
