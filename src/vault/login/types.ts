/**
 * One interface for the three ways vault-mcp signs in to a tenant's Vault (tenant.vault.auth.mode).
 * The session manager picks the mode, keys the session by what `subject` returns, runs `identify` on
 * a cache miss and `login` at most once per key across callers and replicas.
 *
 * @module
 */
import type { CallContext } from '../../context/call-context.js';
import type { Tenant } from '../../tenancy/tenant.js';
import type { VaultClient } from '../client.js';
import type { LoginKind } from '../session-cache.js';
import type { SessionStore } from '../session-store.js';

/** Who the caller acts as in Vault, as far as it is known before a login. */
export interface VaultIdentity {
  vaultUserId?: string;
  vaultUsername?: string;
}

/** A fresh Vault session. */
export interface Login {
  sessionId: string;
  vaultUserId: string;
}

export interface LoginMode {
  readonly kind: LoginKind;
  /** The MCP subject the session is for, or null for one session per tenant. */
  subject(ctx: CallContext): string | null;
  /** Runs on every cache miss, before the store is asked (cheap: config or a remembered mapping). */
  identify(tenant: Tenant, ctx: CallContext): Promise<VaultIdentity>;
  /** Open a session; runs at most once per session key however many callers and replicas ask. */
  login(tenant: Tenant, ctx: CallContext, who: VaultIdentity): Promise<Login>;
}

/** What the modes need from the manager. */
export interface LoginDeps {
  clientFor(tenant: Tenant): VaultClient;
  /** Secret lookup for `passwordEnv` (built from the env in main). */
  secrets(name: string): string | undefined;
  store: Pick<SessionStore, 'getMapping' | 'putMapping'>;
  /** Run `fn` with the tenant's service-account session id (re-logging in once if Vault rejects it). */
  withServiceSession<T>(tenant: Tenant, ctx: CallContext, fn: (sessionId: string) => Promise<T>): Promise<T>;
  /** A Vault-audience access token for `oauth` mode (e.g. from an RFC 8693 token exchange). */
  oauthToken?: (ctx: CallContext, tenant: Tenant) => Promise<string>;
}
