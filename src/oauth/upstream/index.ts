/**
 * Upstream identity providers of the authorization server (see types.ts for the seam).
 *
 * @module
 */
export { callbackPath, redirectUrisToRegister, type RedirectUriToRegister } from './callback.js';
export { createGithubUpstream, type GithubUpstreamOptions } from './github-provider.js';
export { createOidcUpstream, isEntraIssuer, verifiedEmail, type OidcUpstreamOptions } from './oidc-provider.js';
export { createUpstreamRegistry, type TenantLookup, type UpstreamRegistryDeps } from './registry.js';
export type {
  AuthorizationRequestInput,
  CodeExchangeInput,
  UpstreamIdentity,
  UpstreamProvider,
  UpstreamRegistry,
  UpstreamTokens,
} from './types.js';
