/**
 * The seam between the authorization server (`src/oauth`: authorize, consent, codes, tokens) and the
 * identity providers users sign in with (`src/oauth/upstream`: Google, GitHub, Auth0, generic OIDC and
 * each tenant's own OIDC provider). The authorization server owns state, nonce and PKCE towards the
 * upstream and each upstream's own callback URL (`callbackPath`); a provider only builds the redirect and
 * turns the callback's code into a verified identity (and, for the `oauth` Vault mode, renews its tokens).
 *
 * @module
 */
import type { Provider } from '../../auth/types.js';

/** An upstream's tokens, kept encrypted with the grant for the `oauth` Vault mode's RFC 8693 exchange. */
export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Epoch seconds; absent when the upstream did not say (then the token is used as it is). */
  expiresAt?: number;
  /** Epoch seconds when we received them (how early to renew depends on the lifetime). */
  obtainedAt?: number;
}

/** A signed-in user as an upstream proved it. Upstream tokens stay server-side (never sent to a client). */
export interface UpstreamIdentity {
  /** Stable subject at the upstream (OIDC `sub`, GitHub numeric id). */
  subject: string;
  /** Which verifier family the identity rules follow (e.g. Google's `hd`, GitHub's verified primary email). */
  provider: Provider;
  /** The upstream's issuer (OIDC) or API base (GitHub). */
  issuer: string;
  /** Lower-cased; only ever set when the upstream says it is verified. */
  email: string;
  emailVerified: true;
  name?: string;
  /** Google Workspace domain (`hd`), when proven. */
  hostedDomain?: string;
  /** Kept encrypted with the grant, for the `oauth` Vault mode's RFC 8693 exchange. */
  upstreamTokens: UpstreamTokens;
}

export interface AuthorizationRequestInput {
  state: string;
  nonce: string;
  /** S256 challenge of the verifier the authorization server keeps. */
  codeChallenge: string;
  /** This provider's own callback URL (`PUBLIC_URL/oauth/callback/<provider id>`, see `callbackPath`). */
  redirectUri: string;
  loginHint?: string;
}

export interface CodeExchangeInput {
  /** The full callback URL as received (code, state, iss, error…). */
  callbackUrl: URL;
  expectedState: string;
  expectedNonce: string;
  codeVerifier: string;
  redirectUri: string;
}

export interface UpstreamProvider {
  /** Stable id used in URLs and audit rows: `google`, `github`, `auth0`, `oidc`, `tenant:<tenant id>`. */
  id: string;
  /** Shown on the sign-in page. */
  displayName: string;
  authorizationUrl(input: AuthorizationRequestInput): Promise<URL>;
  /**
   * Validate the callback (state, `iss` when sent, error responses), redeem the code with PKCE, verify
   * the ID token (issuer, audience, nonce, signature, expiry) or the provider's user API, and return
   * the identity. Throws an `AuthError`/`AppError` with a precise, safe message on any failure.
   */
  exchange(input: CodeExchangeInput): Promise<UpstreamIdentity>;
  /**
   * Renew the tokens with the refresh token (OIDC providers). Returns the successors (a refresh token
   * the upstream did not rotate is carried over). Throws `SignInAgainError` when the upstream refuses
   * (`invalid_grant`) or cannot refresh, `ERR_UPSTREAM_UNAVAILABLE` when it cannot be reached.
   * Absent: tokens of this provider cannot be renewed.
   */
  refresh?(previous: UpstreamTokens): Promise<UpstreamTokens>;
}

export interface UpstreamRegistry {
  /** Server-wide providers (from env), in display order. */
  list(): readonly UpstreamProvider[];
  get(id: string): Promise<UpstreamProvider | undefined>;
  /** Home-realm discovery: the provider of the tenant that owns this email's domain, if it names one. */
  forEmail(email: string): Promise<UpstreamProvider | undefined>;
}
