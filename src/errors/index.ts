/**
 * Typed errors with stable codes. Every code is listed once in {@link ERROR_CODES} with the HTTP
 * status, the JSON-RPC code and (for auth failures) the OAuth `error` it maps to; `http/error-mapper.ts`
 * is the only place that turns them into responses. Messages are safe to show to users: they never
 * carry tokens, passwords or stack traces.
 *
 * @module
 */

/** JSON-RPC error codes used on the wire. */
export const JSONRPC = {
  invalidRequest: -32600,
  invalidParams: -32602,
  internal: -32603,
  /** Implementation-defined server errors live in -32000..-32099. */
  serverError: -32000,
} as const;

interface CodeInfo {
  status: number;
  jsonRpc: number;
  /** RFC 6750 error for WWW-Authenticate, when the code is an auth failure. */
  oauth?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
}

/** The registry of every error code the server emits. Documented in docs/errors.md. */
export const ERROR_CODES = {
  ERR_BAD_REQUEST: { status: 400, jsonRpc: JSONRPC.invalidRequest, oauth: 'invalid_request' },
  ERR_TOKEN_IN_QUERY: { status: 400, jsonRpc: JSONRPC.invalidRequest, oauth: 'invalid_request' },
  ERR_AUTH_MISSING: { status: 401, jsonRpc: JSONRPC.serverError, oauth: 'invalid_token' },
  ERR_AUTH_INVALID_TOKEN: { status: 401, jsonRpc: JSONRPC.serverError, oauth: 'invalid_token' },
  ERR_AUTH_INSUFFICIENT_SCOPE: { status: 403, jsonRpc: JSONRPC.serverError, oauth: 'insufficient_scope' },
  ERR_AUTH_EMAIL_UNVERIFIED: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_TENANT_UNKNOWN_DOMAIN: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_TENANT_EMAIL_INVALID: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_TENANT_PUBLIC_DOMAIN: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_TENANT_UNAVAILABLE: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_TENANT_NOT_FOUND: { status: 404, jsonRpc: JSONRPC.serverError },
  ERR_NOT_FOUND: { status: 404, jsonRpc: JSONRPC.serverError },
  ERR_METHOD_NOT_ALLOWED: { status: 405, jsonRpc: JSONRPC.serverError },
  ERR_CONFLICT: { status: 409, jsonRpc: JSONRPC.serverError },
  ERR_RATE_LIMITED: { status: 429, jsonRpc: JSONRPC.serverError },
  ERR_UPSTREAM_UNAVAILABLE: { status: 503, jsonRpc: JSONRPC.serverError },
  ERR_DB_UNAVAILABLE: { status: 503, jsonRpc: JSONRPC.serverError },
  ERR_VAULT: { status: 502, jsonRpc: JSONRPC.serverError },
  // Vault (src/vault): finer codes; the Vault error type is in details.vaultType.
  ERR_VAULT_AUTH: { status: 502, jsonRpc: JSONRPC.serverError },
  ERR_VAULT_ACCESS: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_VAULT_INVALID_REQUEST: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_VAULT_RATE_LIMITED: { status: 429, jsonRpc: JSONRPC.serverError },
  ERR_VAULT_UNAVAILABLE: { status: 503, jsonRpc: JSONRPC.serverError },
  ERR_VQL_REJECTED: { status: 400, jsonRpc: JSONRPC.serverError },
  // OAuth authorization server (src/oauth): the RFC 6749 error each maps to is in src/oauth/errors.ts.
  ERR_OAUTH_INVALID_REQUEST: { status: 400, jsonRpc: JSONRPC.invalidRequest },
  ERR_OAUTH_INVALID_CLIENT: { status: 401, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_INVALID_GRANT: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_INVALID_SCOPE: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_INVALID_TARGET: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_UNSUPPORTED: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_ACCESS_DENIED: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_CSRF: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_LOGIN_EXPIRED: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_CLIENT_METADATA: { status: 400, jsonRpc: JSONRPC.serverError },
  ERR_OAUTH_UPSTREAM: { status: 502, jsonRpc: JSONRPC.serverError },
  // HTTP edge (src/http): request bodies, batches, connections.
  ERR_INVALID_BODY: { status: 400, jsonRpc: -32700 }, // JSON-RPC "Parse error"
  ERR_PAYLOAD_TOO_LARGE: { status: 413, jsonRpc: JSONRPC.invalidRequest },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, jsonRpc: JSONRPC.invalidRequest },
  ERR_REQUEST_TIMEOUT: { status: 408, jsonRpc: JSONRPC.invalidRequest },
  ERR_BATCH_REFUSED: { status: 400, jsonRpc: JSONRPC.invalidRequest },
  ERR_TOO_MANY_CONNECTIONS: { status: 429, jsonRpc: JSONRPC.serverError },
  // Tools and the MCP surface
  ERR_INVALID_ARGUMENT: { status: 400, jsonRpc: JSONRPC.invalidParams },
  ERR_TENANT_MISCONFIGURED: { status: 500, jsonRpc: JSONRPC.internal },
  // Identity hardening (issue #12): consumer accounts and API-key act-as users outside the tenant.
  ERR_TENANT_CONSUMER_ACCOUNT: { status: 403, jsonRpc: JSONRPC.serverError },
  ERR_TENANT_ACT_AS_DOMAIN: { status: 403, jsonRpc: JSONRPC.serverError },
  // Upstream sign-in (src/oauth/upstream): the identity provider's answer on the callback.
  /** The user or the upstream refused the sign-in (access_denied and other error responses). */
  ERR_UPSTREAM_DENIED: { status: 403, jsonRpc: JSONRPC.serverError },
  /** The upstream's answer failed validation (ID token issuer/audience/nonce/signature/expiry, token response). */
  ERR_UPSTREAM_INVALID: { status: 502, jsonRpc: JSONRPC.serverError },
  /** A tenant's own identity provider vouched for an email outside that tenant's domains. */
  ERR_UPSTREAM_TENANT_MISMATCH: { status: 403, jsonRpc: JSONRPC.serverError },
  /** A sign-in's callback arrived on another upstream's callback path (IdP mix-up defence, RFC 9700 §4.4). */
  ERR_UPSTREAM_MIXUP: { status: 400, jsonRpc: JSONRPC.serverError },
  /**
   * The upstream token kept with a grant (`oauth` Vault mode) has expired and cannot be renewed (no
   * refresh token, or the identity provider refused it): the user must sign in again.
   */
  ERR_UPSTREAM_SIGN_IN_REQUIRED: { status: 401, jsonRpc: JSONRPC.serverError, oauth: 'invalid_token' },
  ERR_INTERNAL: { status: 500, jsonRpc: JSONRPC.internal },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Base class of every error the server raises on purpose.
 *
 * @example
 * throw new AppError('ERR_TENANT_UNKNOWN_DOMAIN', 'No tenant is configured for the domain "example.org"');
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra, non-secret fields for the response (e.g. the scope needed, a Retry-After). */
  readonly details: Readonly<Record<string, string | number>>;

  constructor(code: ErrorCode, message: string, details: Record<string, string | number> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/**
 * A bearer token was missing or failed verification. The message is the `error_description`.
 *
 * @example
 * throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'Token audience "x" is not this resource');
 */
export class AuthError extends AppError {
  constructor(
    code: 'ERR_AUTH_MISSING' | 'ERR_AUTH_INVALID_TOKEN' | 'ERR_AUTH_INSUFFICIENT_SCOPE' | 'ERR_AUTH_EMAIL_UNVERIFIED',
    message: string,
    details: Record<string, string | number> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, details, options);
    this.name = 'AuthError';
  }
}

/**
 * The sign-in at the identity provider behind a grant cannot be renewed; the user must sign in again.
 * `reason`: `no_refresh_token`, `refresh_refused` (the IdP answered invalid_grant), `refresh_not_allowed`
 * (the IdP does not let this client refresh), `not_refreshable` (the provider has no refresh),
 * `provider_changed` (the provider is gone or now names another issuer).
 *
 * @example
 * throw new SignInAgainError('Acme SSO refused to renew the sign-in (invalid_grant); sign in again', 'refresh_refused');
 */
export class SignInAgainError extends AppError {
  constructor(
    message: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super('ERR_UPSTREAM_SIGN_IN_REQUIRED', message, { reason }, options);
    this.name = 'SignInAgainError';
  }
}

/**
 * The configuration is invalid. Thrown at boot with every problem found, then the process exits.
 *
 * @example
 * throw new ConfigError(['PUBLIC_URL: Invalid URL']);
 */
export class ConfigError extends TypeError {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** True when `e` is an {@link AppError} (including subclasses). */
export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
