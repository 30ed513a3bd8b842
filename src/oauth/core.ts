/**
 * What the authorization server's endpoints share: configuration, stores, keys, and the helpers for
 * audit rows, metrics, tenant checks, parameters and answers.
 *
 * @module
 */
import type { AuditWriter } from '../audit/index.js';
import type { Provider, UserContext } from '../auth/types.js';
import type { Pool } from '../db/pool.js';
import { AppError, isAppError, type ErrorCode } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { TenantResolver } from '../tenancy/resolve-tenant.js';
import { signInProviderProblem, type Tenant } from '../tenancy/tenant.js';
import type { SessionCipher } from '../vault/crypto.js';
import { createCimdResolver, type CimdOptions } from './cimd.js';
import { createClientStore } from './clients.js';
import { createGrantStore, type Grant } from './grants.js';
import { createSigningKeys } from './keys.js';
import { createLoginStore, type AuthorizeRequest } from './logins.js';
import { errorPage } from './pages.js';
import { createUpstreamTokenSource } from './upstream-tokens.js';
import { isLoopbackRedirect } from './redirect-uris.js';
import type { UpstreamIdentity, UpstreamRegistry } from './upstream/types.js';

export interface OAuthServerConfig {
  issuer: string;
  resource: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  codeTtlSeconds: number;
  loginTtlSeconds: number;
  signingAlg: 'ES256' | 'EdDSA';
  dcr: { enabled: boolean; perHour: number };
  rateLimitPerMinute: number;
  cimd: { enabled: boolean; timeoutMs: number; maxBytes: number; cacheMaxSeconds: number };
  scopesSupported: string[];
  defaultScopes: string[];
  /** A grant older than this cannot be refreshed: the user signs in again (deactivation at the IdP). */
  grantMaxAgeSeconds: number;
}

export interface OAuthServerDeps {
  config: OAuthServerConfig;
  pool: Pool;
  cipher: SessionCipher;
  upstreams: UpstreamRegistry;
  resolveTenant: Pick<TenantResolver, 'findById'> & ((user: UserContext) => Promise<Tenant>);
  log: Logger;
  audit?: AuditWriter;
  metrics?: Metrics;
  /** Test seams of the metadata-document fetcher (DNS, CA, address policy); never set in production. */
  cimd?: Pick<CimdOptions, 'lookup' | 'ca' | 'isAllowedAddress'>;
}

export type Outcome = { kind: 'redirect'; location: string } | { kind: 'page'; status: number; html: string };
export interface JsonOutcome {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export type Params = Record<string, unknown>;

/** RFC 6749 `error` values for our codes (token and authorization responses). */
export const OAUTH_ERROR: Partial<Record<ErrorCode, string>> = {
  ERR_OAUTH_INVALID_REQUEST: 'invalid_request',
  ERR_OAUTH_INVALID_CLIENT: 'invalid_client',
  ERR_OAUTH_INVALID_GRANT: 'invalid_grant',
  ERR_OAUTH_INVALID_SCOPE: 'invalid_scope',
  ERR_OAUTH_INVALID_TARGET: 'invalid_target',
  ERR_OAUTH_UNSUPPORTED: 'unsupported_grant_type',
  ERR_OAUTH_ACCESS_DENIED: 'access_denied',
  ERR_OAUTH_CLIENT_METADATA: 'invalid_client',
};

const CODE_OF_OAUTH_ERROR: Record<string, ErrorCode> = Object.fromEntries(
  Object.entries(OAUTH_ERROR).map(([code, error]) => [error, code as ErrorCode]),
);

/**
 * The subject our tokens carry: the same string the provider's bearer-token verifier produces, so audit
 * rows, Vault sessions and user mappings stay the same whether a user came with an IdP token or ours.
 */
export function subjectOf(id: Pick<UpstreamIdentity, 'provider' | 'issuer' | 'subject'>): string {
  if (id.provider === 'google' || id.provider === 'github' || id.provider === 'auth0')
    return `${id.provider}:${id.subject}`;
  return `${id.provider}:${id.issuer}|${id.subject}`;
}

export function userOf(
  g: { subject: string; provider: Provider; issuer: string; email: string; hostedDomain?: string },
  clientId: string,
  scopes: string[],
): UserContext {
  return {
    subject: g.subject,
    provider: g.provider,
    issuer: g.issuer,
    email: g.email,
    emailVerified: true,
    scopes,
    clientId,
    expiresAt: Math.floor(Date.now() / 1000) + 60,
    hostedDomain: g.hostedDomain,
  };
}

export const grantUser = (g: Grant, scopes = g.scopes) =>
  userOf({ ...g.identity, subject: g.subject, email: g.email }, g.clientId, scopes);

/**
 * @example
 * const oauth = createOAuthServer({ config, pool, cipher, upstreams, resolveTenant, log });
 */
/**
 * @example
 * const core = createCore(deps);
 */
export function createCore(deps: OAuthServerDeps) {
  const { config: c, log } = deps;
  const keys = createSigningKeys({
    pool: deps.pool,
    cipher: deps.cipher,
    alg: c.signingAlg,
    overlapSeconds: c.accessTokenTtlSeconds + 600,
  });
  const grants = createGrantStore({
    pool: deps.pool,
    cipher: deps.cipher,
    refreshTtlSeconds: c.refreshTokenTtlSeconds,
  });
  const logins = createLoginStore({ pool: deps.pool, cipher: deps.cipher, ttlSeconds: c.loginTtlSeconds });
  // oauth Vault mode: the upstream token kept with a grant, renewed with its refresh token when due.
  const upstreamTokens = createUpstreamTokenSource({
    grants,
    upstreams: deps.upstreams,
    log,
    onRenewal: (outcome, reason) => count('upstream_refresh', outcome, reason),
  });
  const cimd = c.cimd.enabled ? createCimdResolver({ ...c.cimd, ...deps.cimd }) : undefined;
  const clients = createClientStore({ pool: deps.pool, cimd });

  const count = (event: string, outcome: 'ok' | 'denied' | 'error', reason = '') =>
    deps.metrics?.oauthEvents.inc({ event, outcome, reason });

  /** One audit row in the tenant's log (a refused sign-in before the tenant is known is logged only). */
  async function audit(
    tenant: Tenant | undefined,
    event: string,
    who: { subject: string; provider?: string; scopes?: readonly string[] },
    outcome: 'ok' | 'denied',
    details: Record<string, unknown>,
    errorCode?: string,
  ): Promise<void> {
    log.info({ event, outcome, sub: who.subject, tenant: tenant?.id, errorCode, ...details }, 'oauth event');
    if (!deps.audit || !tenant) return;
    try {
      await deps.audit.record(tenant, {
        requestId: undefined,
        subject: who.subject,
        actor: undefined,
        provider: who.provider,
        tool: event,
        scopes: who.scopes ?? [],
        outcome,
        errorCode,
        vaultUser: undefined,
        latencyMs: undefined,
        details,
      });
    } catch (e) {
      log.warn({ event, err: (e as Error).message }, 'could not audit an oauth event');
    }
  }

  /** The tenant a grant's user maps to now; undefined (and the reason) when it no longer does. */
  async function currentTenant(g: Grant): Promise<{ tenant?: Tenant; problem?: AppError; reason?: string }> {
    try {
      const tenant = await deps.resolveTenant(grantUser(g));
      if (tenant.id !== g.tenantId)
        return {
          problem: new AppError(
            'ERR_OAUTH_INVALID_GRANT',
            `The email domain of ${g.email} now belongs to another tenant; authorize again`,
          ),
        };
      const sso = signInProviderProblem(tenant, g.upstream);
      if (sso)
        return { problem: new AppError('ERR_OAUTH_INVALID_GRANT', `${sso}; sign in again`), reason: 'sso_required' };
      return { tenant };
    } catch (e) {
      if (isAppError(e) && e.status < 500)
        return { problem: new AppError('ERR_OAUTH_INVALID_GRANT', `This grant no longer applies: ${e.message}`) };
      throw e;
    }
  }

  async function tenantById(id: string): Promise<Tenant | undefined> {
    return deps.resolveTenant.findById(id).catch(() => undefined);
  }

  function redirectTo(req: Pick<AuthorizeRequest, 'redirectUri' | 'state'>, params: Record<string, string>): Outcome {
    const u = new URL(req.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (req.state !== undefined) u.searchParams.set('state', req.state);
    // RFC 9207: the client can check the response came from the server it sent the user to.
    u.searchParams.set('iss', c.issuer);
    return { kind: 'redirect', location: u.href };
  }

  /** An error page; with `client`, a link hands the OAuth error back to the waiting client too. */
  const page = (
    status: number,
    title: string,
    e: AppError,
    client?: { request: Pick<AuthorizeRequest, 'redirectUri' | 'state'>; error: string; description?: string },
  ): Outcome => {
    const back = client
      ? redirectTo(client.request, {
          error: client.error,
          error_description: (client.description ?? `${e.message} (${e.code})`).slice(0, 500),
        })
      : undefined;
    return {
      kind: 'page',
      status,
      html: errorPage(title, e.message, e.code, back?.kind === 'redirect' ? back.location : undefined),
    };
  };

  /**
   * An OAuth error for the client before the user has signed in and consented. Only a loopback client
   * (a native app on this machine) is sent it straight away; any other redirect URI gets the error page
   * with a "Return to the application" link, so a client anyone can register cannot use this server as
   * an open redirector (RFC 9700 §4.11.2): a person must click.
   */
  function refuseToClient(
    request: Pick<AuthorizeRequest, 'redirectUri' | 'state'>,
    error: string,
    description: string,
    title = 'This application cannot sign you in',
  ): Outcome {
    if (isLoopbackRedirect(request.redirectUri)) return redirectTo(request, { error, error_description: description });
    const e = new AppError(CODE_OF_OAUTH_ERROR[error] ?? 'ERR_OAUTH_INVALID_REQUEST', description);
    return page(e.code === 'ERR_OAUTH_ACCESS_DENIED' ? 403 : 400, title, e, { request, error, description });
  }

  function single(p: Params, key: string): string | undefined {
    const v = p[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string')
      throw new AppError('ERR_OAUTH_INVALID_REQUEST', `The parameter '${key}' must be given once, as a string`);
    return v;
  }

  return {
    deps,
    c,
    log,
    keys,
    grants,
    logins,
    clients,
    upstreamTokens,
    count,
    audit,
    currentTenant,
    tenantById,
    redirectTo,
    page,
    refuseToClient,
    single,
  };
}

export type Core = ReturnType<typeof createCore>;
