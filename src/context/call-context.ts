/**
 * What a call knows about its caller. Built by the HTTP layer (or stdio) after authentication and tenant
 * resolution; read by the MCP tools and by the Vault session manager, so it lives below both.
 *
 * @module
 */
import type { UserContext } from '../auth/types.js';
import type { Tenant } from '../tenancy/tenant.js';

export interface CallContext {
  user: UserContext;
  tenant: Tenant | undefined;
  requestId: string;
}

/** What a call that used Vault returns: its value and the Vault user it acted as (for the audit row). */
export interface Acted<T> {
  value: T;
  /** Username when known, else Vault's user id; absent when the call did not act in Vault. */
  vaultUser?: string;
}

const ACTED_AS = Symbol('vault-mcp.actedAs');

/**
 * A call that failed in Vault acted too: remember as whom on the error itself (non-enumerable, so it is
 * never serialised), for the audit row of the failure.
 *
 * @example
 * throw markActedAs(e, 'jane@acme.com');
 */
export function markActedAs(e: unknown, vaultUser: string): unknown {
  if (e && typeof e === 'object' && !Object.prototype.hasOwnProperty.call(e, ACTED_AS))
    Object.defineProperty(e, ACTED_AS, { value: vaultUser, enumerable: false });
  return e;
}

/**
 * The Vault user a failed call acted as (see {@link markActedAs}).
 *
 * @example
 * const vaultUser = actedAs(e);
 */
export function actedAs(e: unknown): string | undefined {
  return e && typeof e === 'object' ? (e as Record<symbol, string | undefined>)[ACTED_AS] : undefined;
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
