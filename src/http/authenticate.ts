/**
 * Bearer authentication for `/mcp`, on every request (no session-based auth).
 *
 * Modelled on the SDK's `requireBearerAuth`, written here because that one answers an IdP outage
 * with a bare 500 (we fail closed with 503 and say which provider), cannot run tenant resolution,
 * and does not escape `error_description`. The challenge format is the SDK's plus RFC 9728's
 * `resource_metadata`.
 *
 * @module
 */
import type { Request } from 'express';
import type { TokenVerifier, UserContext } from '../auth/types.js';
import { AppError, AuthError } from '../errors/index.js';

const QUERY_TOKEN_KEYS = ['access_token', 'token', 'bearer', 'api_key', 'apikey'];

/**
 * Extract the bearer token; refuse tokens in the query string (RFC 6750 §2.3 is not supported:
 * URLs end up in logs and proxies).
 *
 * @example
 * const token = bearerToken(req);
 */
export function bearerToken(req: Request): string {
  const q = req.query as Record<string, unknown>;
  for (const k of QUERY_TOKEN_KEYS) {
    if (k in q)
      throw new AppError(
        'ERR_TOKEN_IN_QUERY',
        `Tokens in the query string ('${k}') are refused; send 'Authorization: Bearer <token>'`,
      );
  }
  const header = req.headers.authorization;
  if (!header) throw new AuthError('ERR_AUTH_MISSING', "Missing 'Authorization: Bearer <token>' header");
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  if (!m) throw new AuthError('ERR_AUTH_INVALID_TOKEN', "The Authorization header must be 'Bearer <token>'");
  return m[1]!;
}

/**
 * Verify the request's token. Resolves to the normalized user and the token it came from (kept for
 * oauth-mode token exchange only); throws an AppError otherwise.
 *
 * @example
 * const { user } = await authenticate(req, verifier);
 */
export async function authenticate(
  req: Request,
  verifier: TokenVerifier,
): Promise<{ user: UserContext; token: string }> {
  const token = bearerToken(req);
  const user = await verifier.verify(token);
  if (!Number.isFinite(user.expiresAt) || user.expiresAt * 1000 < Date.now()) {
    throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token has expired (exp)');
  }
  return { user, token };
}
