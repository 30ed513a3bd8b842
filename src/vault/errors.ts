/**
 * Vault answers almost everything with HTTP 200 and `responseStatus: SUCCESS | WARNING | FAILURE |
 * EXCEPTION`; a failure carries `errors[].type` (stable per API version) and `errors[].message` (not
 * contractual, for humans). {@link VaultError} keeps Vault's type and message and picks one of our
 * stable codes from the type, so tools can show users exactly what Vault said.
 *
 * @module
 */
import { AppError, type ErrorCode } from '../errors/index.js';

/** Vault error types we act on (the full list is longer; unknown types map to ERR_VAULT). */
export type VaultErrorType =
  | 'INVALID_SESSION_ID'
  | 'API_LIMIT_EXCEEDED'
  | 'INSUFFICIENT_ACCESS'
  | 'INVALID_DATA'
  | 'MALFORMED_URL'
  | 'OPERATION_NOT_ALLOWED'
  | 'PARAMETER_REQUIRED'
  | 'INCORRECT_QUERY_SYNTAX_ERROR'
  | 'USERNAME_OR_PASSWORD_INCORRECT'
  | 'NO_PASSWORD_PROVIDED'
  | 'INACTIVE_USER'
  | 'USER_LOCKED_OUT'
  | 'PASSWORD_CHANGE_REQUIRED'
  | (string & {});

const CODE_BY_TYPE: Record<string, ErrorCode> = {
  INVALID_SESSION_ID: 'ERR_VAULT_AUTH',
  USERNAME_OR_PASSWORD_INCORRECT: 'ERR_VAULT_AUTH',
  NO_PASSWORD_PROVIDED: 'ERR_VAULT_AUTH',
  INACTIVE_USER: 'ERR_VAULT_AUTH',
  USER_LOCKED_OUT: 'ERR_VAULT_AUTH',
  PASSWORD_CHANGE_REQUIRED: 'ERR_VAULT_AUTH',
  INSUFFICIENT_ACCESS: 'ERR_VAULT_ACCESS',
  OPERATION_NOT_ALLOWED: 'ERR_VAULT_ACCESS',
  INVALID_DATA: 'ERR_VAULT_INVALID_REQUEST',
  MALFORMED_URL: 'ERR_VAULT_INVALID_REQUEST',
  PARAMETER_REQUIRED: 'ERR_VAULT_INVALID_REQUEST',
  INCORRECT_QUERY_SYNTAX_ERROR: 'ERR_VAULT_INVALID_REQUEST',
  INVALID_FILTER: 'ERR_VAULT_INVALID_REQUEST',
  ATTRIBUTE_NOT_SUPPORTED: 'ERR_VAULT_INVALID_REQUEST',
  API_LIMIT_EXCEEDED: 'ERR_VAULT_RATE_LIMITED',
};

/**
 * A Vault failure, or Vault being unreachable. `vaultType` is Vault's `errors[0].type` (or a
 * transport pseudo-type: `HTTP_<status>`, `TIMEOUT`, `NETWORK`).
 *
 * @example
 * throw VaultError.fromFailure({ responseStatus: 'FAILURE', errors: [{ type: 'INVALID_DATA', message: 'bad id' }] });
 */
export class VaultError extends AppError {
  readonly vaultType: VaultErrorType;
  readonly vaultMessage: string;

  constructor(
    code: ErrorCode,
    vaultType: VaultErrorType,
    vaultMessage: string,
    options?: ErrorOptions & { retryAfter?: number },
  ) {
    super(
      code,
      `Vault ${vaultType}: ${vaultMessage}`,
      {
        vaultType,
        ...(options?.retryAfter !== undefined ? { retryAfter: options.retryAfter } : {}),
      },
      options,
    );
    this.name = 'VaultError';
    this.vaultType = vaultType;
    this.vaultMessage = vaultMessage;
  }

  /** Build from a FAILURE/EXCEPTION body. Messages are truncated: they are shown to users. */
  static fromFailure(body: { responseStatus?: unknown; errors?: unknown }): VaultError {
    const first = Array.isArray(body.errors)
      ? (body.errors[0] as { type?: unknown; message?: unknown } | undefined)
      : undefined;
    const type =
      typeof first?.type === 'string'
        ? first.type
        : body.responseStatus === 'EXCEPTION'
          ? 'UNEXPECTED_ERROR'
          : 'UNKNOWN';
    const message =
      typeof first?.message === 'string'
        ? first.message.slice(0, 500)
        : `Vault answered ${String(body.responseStatus)}`;
    return new VaultError(CODE_BY_TYPE[type] ?? 'ERR_VAULT', type, message);
  }
}

/** True when `e` is a Vault failure of the given type. */
export function isVaultError(e: unknown, type?: VaultErrorType): e is VaultError {
  return e instanceof VaultError && (type === undefined || e.vaultType === type);
}

/**
 * Another server replica has been logging in as this account for longer than a caller waits (its
 * login is slow, or it died holding the lease): a retryable error instead of a call that hangs.
 */
export function loginInProgressError(waitedMs: number): AppError {
  return new AppError(
    'ERR_VAULT_UNAVAILABLE',
    `A login to Vault as this account by another server replica has been under way for over ${Math.round(waitedMs / 1000)} s; retry shortly`,
    { retryAfter: 5 },
  );
}

/**
 * A login refused because Vault's auth limit (per user, per minute) is used up; `retryAfter` says
 * when logins may be tried again.
 *
 * @example
 * throw loginLimitError(60);
 */
export function loginLimitError(retryAfterSeconds: number): VaultError {
  const s = Math.max(1, Math.ceil(retryAfterSeconds));
  return new VaultError(
    'ERR_VAULT_RATE_LIMITED',
    'API_LIMIT_EXCEEDED',
    `Vault's login limit (per user, per minute) is used up; logins are paused, retry in ${s} s`,
    { retryAfter: s },
  );
}
