/**
 * What a tool handler knows about its call. Built by the HTTP layer after authentication and tenant
 * resolution, carried to handlers in the SDK's `authInfo.extra`, so handlers never see Express.
 *
 * @module
 */
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { UserContext } from '../auth/types.js';
import type { Tenant } from '../tenancy/tenant.js';

export interface CallContext {
  user: UserContext;
  tenant: Tenant | undefined;
  requestId: string;
  /**
   * The Vault user this tool call acted as (username when known, else Vault's user id). Written by the
   * Vault session manager while the tool runs, on the per-call copy `registerTools` hands the tool;
   * read back for the audit row.
   */
  vaultUser?: string;
}

const SUBJECT_TOKEN = Symbol('vault-mcp.subjectToken');

/**
 * Keep the caller's verified bearer token on `ctx` for one purpose: `oauth` mode exchanges it
 * (RFC 8693) at the tenant's token endpoint for a Vault-audience token. It is attached only when the
 * tenant's Vault uses `oauth`, under a non-enumerable symbol, so JSON, log lines, object spreads and
 * audit copies of the context never carry it; only {@link subjectToken} reads it.
 *
 * @example
 * const ctx = withSubjectToken({ user, tenant, requestId }, token);
 */
export function withSubjectToken(ctx: CallContext, token: string): CallContext {
  if (ctx.tenant?.vault.auth.mode === 'oauth')
    Object.defineProperty(ctx, SUBJECT_TOKEN, { value: token, enumerable: false });
  return ctx;
}

/**
 * The token kept by {@link withSubjectToken} (only the Vault token exchange reads it).
 *
 * @example
 * const token = subjectToken(ctx);
 */
export function subjectToken(ctx: CallContext): string | undefined {
  return (ctx as unknown as Record<symbol, string | undefined>)[SUBJECT_TOKEN];
}

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
