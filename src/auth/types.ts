/**
 * The normalized identity every verifier produces, whatever the token source.
 *
 * @module
 */

export type Provider = 'oidc' | 'google' | 'auth0' | 'github' | 'github-actions' | 'api-key' | 'local';

/** Who is calling, after full verification. Never holds the raw token. */
export interface UserContext {
  /** Stable subject, `provider:id` (e.g. `oidc:https://idp.example.com|248289761001`). */
  subject: string;
  provider: Provider;
  /** Verified issuer (JWTs) or provider API base (opaque tokens). */
  issuer: string;
  email: string | undefined;
  emailVerified: boolean;
  /** Scopes granted to this call (already intersected with what the server knows). */
  scopes: string[];
  /** OAuth client that obtained the token (`azp`/`client_id`), when known. */
  clientId: string;
  /** Seconds since epoch. */
  expiresAt: number;
  /** For API keys: the service that acts (the key), while `subject` is who it acts as. */
  actor?: string;
  /** Tenant the identity is bound to (API keys, GitHub Actions): no email-domain mapping. */
  tenantId?: string;
  /** Google Workspace domain (`hd`), when the provider proves one. */
  hostedDomain?: string;
  /** Tokens of our own authorization server: the grant they were issued under. */
  grantId?: string;
}

/**
 * Verifies one kind of token. Throws an `AuthError` with a precise, safe description on failure.
 *
 * @example
 * const user = await verifier.verify(token);
 */
export interface TokenVerifier {
  verify(token: string): Promise<UserContext>;
}
