/**
 * Carries the {@link CallContext} to tool handlers through the SDK's `authInfo.extra`, so handlers never
 * see Express.
 *
 * @module
 */
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { CallContext } from '../context/call-context.js';

/**
 * Pack a call context into the SDK's AuthInfo (the raw token is not kept).
 *
 * @example
 * req.auth = toAuthInfo(ctx);
 */
export function toAuthInfo(ctx: CallContext): AuthInfo {
  return {
    token: '[redacted]',
    clientId: ctx.user.clientId,
    scopes: ctx.user.scopes,
    expiresAt: ctx.user.expiresAt,
    extra: { ctx },
  };
}

/**
 * Read the call context back inside a handler.
 *
 * @example
 * const ctx = fromAuthInfo(extra.authInfo);
 */
export function fromAuthInfo(info: AuthInfo | undefined): CallContext {
  const ctx = info?.extra?.ctx as CallContext | undefined;
  if (!ctx) throw new Error('tool called without an authenticated context');
  return ctx;
}
