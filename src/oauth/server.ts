/**
 * The OAuth 2.1 authorization server, framework-free: each endpoint takes the request's values and
 * returns what to answer (`src/http/oauth-routes.ts` maps that to Express). Flow:
 *
 *   /authorize → validate client, redirect_uri (page on error, never a redirect), PKCE S256, state,
 *   resource, scopes (errors redirect to the client) → a sign-in bound to this browser → the upstream
 *   (one provider: straight there; several: a chooser with email home-realm discovery) → /oauth/callback
 *   (state, nonce, PKCE towards the upstream; identity rules and tenant resolution) → consent page
 *   (user, unverified client name, redirect host, scopes; POST with CSRF token + browser cookie) → code.
 *   /oauth/token → codes (single use, ≤ 60 s, replay revokes the grant) and rotating refresh tokens
 *   (reuse revokes the grant) → our own short-lived JWT access tokens.
 *
 * @module
 */
import type { OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { AuditWriter } from '../audit/index.js';
import type { Provider, UserContext } from '../auth/types.js';
import type { Pool } from '../db/pool.js';
import { AppError, isAppError, type ErrorCode } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { SessionCipher } from '../vault/crypto.js';
import { createCimdResolver, type CimdOptions } from './cimd.js';
import { createClientStore } from './clients.js';
import { createGrantStore, RefreshRaceError, REFRESH_PREFIX, type Grant } from './grants.js';
import { createSigningKeys } from './keys.js';
import { createLoginStore, LoginError, type AuthorizeRequest, type Login } from './logins.js';
import { chooserPage, consentPage, errorPage } from './pages.js';
import { redirectMatches } from './redirect-uris.js';
import type { UpstreamIdentity, UpstreamProvider, UpstreamRegistry } from './upstream/types.js';
import { CHALLENGE_RE, randomToken, s256, safeEqual, VERIFIER_RE } from './util.js';

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
}

export interface OAuthServerDeps {
  config: OAuthServerConfig;
  pool: Pool;
  cipher: SessionCipher;
  upstreams: UpstreamRegistry;
  resolveTenant: (user: UserContext) => Promise<Tenant>;
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

type Params = Record<string, unknown>;

/** RFC 6749 `error` values for our codes (token and authorization responses). */
const OAUTH_ERROR: Partial<Record<ErrorCode, string>> = {
  ERR_OAUTH_INVALID_REQUEST: 'invalid_request',
  ERR_OAUTH_INVALID_CLIENT: 'invalid_client',
  ERR_OAUTH_INVALID_GRANT: 'invalid_grant',
  ERR_OAUTH_INVALID_SCOPE: 'invalid_scope',
  ERR_OAUTH_INVALID_TARGET: 'invalid_target',
  ERR_OAUTH_UNSUPPORTED: 'unsupported_grant_type',
  ERR_OAUTH_ACCESS_DENIED: 'access_denied',
  ERR_OAUTH_CLIENT_METADATA: 'invalid_client',
};

/** Scopes clients commonly add that mean nothing here (refresh tokens are always issued). */
const IGNORED_SCOPES = new Set(['offline_access']);

/**
 * The subject our tokens carry: the same string the provider's bearer-token verifier produces, so audit
 * rows, Vault sessions and user mappings stay the same whether a user came with an IdP token or ours.
 */
export function subjectOf(id: Pick<UpstreamIdentity, 'provider' | 'issuer' | 'subject'>): string {
  if (id.provider === 'google' || id.provider === 'github' || id.provider === 'auth0')
    return `${id.provider}:${id.subject}`;
  return `${id.provider}:${id.issuer}|${id.subject}`;
}

function userOf(
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

const grantUser = (g: Grant, scopes = g.scopes) =>
  userOf({ ...g.identity, subject: g.subject, email: g.email }, g.clientId, scopes);

/**
 * @example
 * const oauth = createOAuthServer({ config, pool, cipher, upstreams, resolveTenant, log });
 */
export function createOAuthServer(deps: OAuthServerDeps) {
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
  const cimd = c.cimd.enabled ? createCimdResolver({ ...c.cimd, ...deps.cimd }) : undefined;
  const clients = createClientStore({ pool: deps.pool, cimd });
  const callbackUrl = `${c.issuer}/oauth/callback`;
  const supported = new Set(c.scopesSupported);
  let lastPurge = 0;

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
  async function currentTenant(g: Grant): Promise<{ tenant?: Tenant; problem?: AppError }> {
    try {
      const tenant = await deps.resolveTenant(grantUser(g));
      if (tenant.id !== g.tenantId)
        return {
          problem: new AppError(
            'ERR_OAUTH_INVALID_GRANT',
            `The email domain of ${g.email} now belongs to another tenant; authorize again`,
          ),
        };
      return { tenant };
    } catch (e) {
      if (isAppError(e) && e.status < 500)
        return { problem: new AppError('ERR_OAUTH_INVALID_GRANT', `This grant no longer applies: ${e.message}`) };
      throw e;
    }
  }

  async function tenantById(id: string): Promise<Tenant | undefined> {
    return deps
      .resolveTenant({ ...userOf({ subject: '-', provider: 'local', issuer: '-', email: '' }, '', []), tenantId: id })
      .catch(() => undefined);
  }

  function redirectTo(req: Pick<AuthorizeRequest, 'redirectUri' | 'state'>, params: Record<string, string>): Outcome {
    const u = new URL(req.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (req.state !== undefined) u.searchParams.set('state', req.state);
    // RFC 9207: the client can check the response came from the server it sent the user to.
    u.searchParams.set('iss', c.issuer);
    return { kind: 'redirect', location: u.href };
  }

  const page = (status: number, title: string, e: AppError): Outcome => ({
    kind: 'page',
    status,
    html: errorPage(title, e.message, e.code),
  });

  function single(p: Params, key: string): string | undefined {
    const v = p[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string')
      throw new AppError('ERR_OAUTH_INVALID_REQUEST', `The parameter '${key}' must be given once, as a string`);
    return v;
  }

  // ---- /authorize -------------------------------------------------------------------------------

  async function authorize(q: Params, browser: string): Promise<Outcome> {
    // Phase 1: who gets the answer. Any problem here is shown on a page, never redirected.
    let client: OAuthClientInformationFull;
    let redirectUri: string;
    let redirectGiven: boolean;
    try {
      const clientId = single(q, 'client_id');
      if (!clientId) throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'The request has no client_id');
      client = await clients.require(clientId);
      const given = single(q, 'redirect_uri');
      redirectGiven = given !== undefined;
      if (given !== undefined) {
        if (!redirectMatches(given, client.redirect_uris))
          throw new AppError(
            'ERR_OAUTH_INVALID_REQUEST',
            `The redirect_uri ${given.slice(0, 300)} is not registered for this client; nothing was sent to it`,
          );
        redirectUri = given;
      } else if (client.redirect_uris.length === 1) redirectUri = client.redirect_uris[0]!;
      else
        throw new AppError(
          'ERR_OAUTH_INVALID_REQUEST',
          'The request has no redirect_uri and the client registered several; it must name one',
        );
    } catch (e) {
      count('authorize', 'denied', isAppError(e) ? e.code : 'ERR_INTERNAL');
      if (isAppError(e) && e.status < 500) return page(400, 'This application cannot sign you in', e);
      throw e;
    }

    // Phase 2: the request itself. Problems go back to the (now trusted) redirect URI.
    let state: string | undefined;
    try {
      state = single(q, 'state');
      if (state !== undefined && state.length > 1024)
        throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'state is longer than 1024 characters');
    } catch (e) {
      return redirectTo(
        { redirectUri, state: undefined },
        { error: 'invalid_request', error_description: (e as Error).message },
      );
    }
    const fail = (error: string, description: string) => {
      count('authorize', 'denied', error);
      return redirectTo({ redirectUri, state }, { error, error_description: description });
    };
    let request: AuthorizeRequest;
    try {
      const responseType = single(q, 'response_type');
      if (responseType !== 'code')
        return fail('unsupported_response_type', `response_type must be code (got ${String(responseType ?? 'none')})`);
      const challenge = single(q, 'code_challenge');
      const method = single(q, 'code_challenge_method');
      if (!challenge)
        return fail('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
      if (method !== 'S256')
        return fail(
          'invalid_request',
          `code_challenge_method must be S256 (${method === undefined ? 'absent means plain' : method}, which is refused)`,
        );
      if (!CHALLENGE_RE.test(challenge))
        return fail('invalid_request', 'code_challenge is not an S256 challenge (43 base64url characters)');
      const resource = single(q, 'resource') ?? c.resource;
      if (resource !== c.resource)
        return fail('invalid_target', `resource must be this server's resource, ${c.resource}`);
      const scopeParam = single(q, 'scope');
      let scopes = (scopeParam ?? '').split(' ').filter((s) => s && !IGNORED_SCOPES.has(s));
      const unknown = scopes.filter((s) => !supported.has(s));
      if (unknown.length)
        return fail(
          'invalid_scope',
          `Unknown scope(s): ${unknown.join(' ').slice(0, 300)}; supported: ${c.scopesSupported.join(' ')}`,
        );
      if (!scopes.length) scopes = c.defaultScopes.filter((s) => supported.has(s));
      if (client.scope) {
        const allowed = new Set(client.scope.split(' '));
        const beyond = scopes.filter((s) => !allowed.has(s));
        if (beyond.length)
          return fail('invalid_scope', `This client registered without the scope(s) ${beyond.join(' ')}`);
      }
      request = {
        clientId: client.client_id,
        clientName: client.client_name,
        redirectUri,
        redirectGiven,
        state,
        codeChallenge: challenge,
        scopes: [...new Set(scopes)],
        resource,
      };
    } catch (e) {
      if (isAppError(e) && e.status < 500) return fail(OAUTH_ERROR[e.code] ?? 'invalid_request', e.message);
      throw e;
    }
    const loginId = await logins.create(browser, { request });
    if (Date.now() - lastPurge > 600_000) {
      lastPurge = Date.now();
      grants.purge().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'oauth purge failed'));
    }
    count('authorize', 'ok');
    const providers = deps.upstreams.list();
    if (providers.length === 1) return startUpstream({ id: loginId, data: { request } }, providers[0]!);
    return chooser(loginId, request);
  }

  function chooser(loginId: string, request: AuthorizeRequest, message?: string, email?: string): Outcome {
    return {
      kind: 'page',
      status: message ? 400 : 200,
      html: chooserPage({
        loginId,
        clientName: request.clientName?.trim() || request.clientId,
        providers: deps.upstreams.list().map((p) => ({ id: p.id, displayName: p.displayName })),
        message,
        email,
      }),
    };
  }

  async function startUpstream(login: Login, provider: UpstreamProvider, loginHint?: string): Promise<Outcome> {
    const upstream = { provider: provider.id, nonce: randomToken(), verifier: randomToken(48), state: randomToken() };
    await logins.update(login.id, { request: login.data.request, upstream });
    const url = await provider.authorizationUrl({
      state: upstream.state,
      nonce: upstream.nonce,
      codeChallenge: s256(upstream.verifier),
      redirectUri: callbackUrl,
      loginHint,
    });
    return { kind: 'redirect', location: url.href };
  }

  /** GET /oauth/signin?login=…&provider=… | &email=… (the chooser's links and form). */
  async function signIn(q: Params, browser: string | undefined): Promise<Outcome> {
    try {
      const login = await logins.get(single(q, 'login') ?? '', browser);
      const providerId = single(q, 'provider');
      const email = single(q, 'email')?.trim().toLowerCase();
      let provider: UpstreamProvider | undefined;
      if (providerId) {
        provider = await deps.upstreams.get(providerId);
        if (!provider)
          return chooser(login.id, login.data.request, `There is no sign-in provider '${providerId.slice(0, 64)}'`);
      } else if (email) {
        if (!/^[^@\s]{1,64}@[^@\s]{1,253}$/.test(email))
          return chooser(login.id, login.data.request, 'That is not an email address', email);
        provider = await deps.upstreams.forEmail(email);
        if (!provider && deps.upstreams.list().length === 1) provider = deps.upstreams.list()[0];
        if (!provider)
          return chooser(
            login.id,
            login.data.request,
            `No sign-in is configured for ${email.split('@')[1]}; choose a provider below`,
            email,
          );
      } else return chooser(login.id, login.data.request, 'Choose a provider or enter your email');
      return await startUpstream(login, provider, email);
    } catch (e) {
      if (isAppError(e) && e.status < 500) return page(e.status, 'Sign-in cannot continue', e);
      throw e;
    }
  }

  // ---- /oauth/callback --------------------------------------------------------------------------

  async function callback(url: URL, browser: string | undefined): Promise<Outcome> {
    const state = url.searchParams.get('state');
    let login: Login;
    try {
      if (!state) throw new AppError('ERR_OAUTH_LOGIN_EXPIRED', 'The identity provider answered without a state');
      login = await logins.byUpstreamState(state, browser);
    } catch (e) {
      count('sign_in', 'denied', isAppError(e) ? e.code : 'ERR_INTERNAL');
      if (isAppError(e) && e.status < 500) return page(e.status, 'Sign-in failed', e);
      throw e;
    }
    const { request, upstream } = login.data;
    if (!upstream)
      return page(400, 'Sign-in failed', new AppError('ERR_OAUTH_LOGIN_EXPIRED', 'No sign-in is under way'));
    const upstreamError = url.searchParams.get('error');
    if (upstreamError) {
      // The user (or the identity provider) said no: tell the client, which is waiting for an answer.
      await logins.finish(login.id);
      count('sign_in', 'denied', 'upstream_error');
      log.info({ upstream: upstream.provider, error: upstreamError.slice(0, 64) }, 'upstream sign-in refused');
      return redirectTo(request, {
        error: 'access_denied',
        error_description: `The sign-in at the identity provider was not completed (${upstreamError.slice(0, 64)})`,
      });
    }
    let identity: UpstreamIdentity;
    try {
      const provider = await deps.upstreams.get(upstream.provider);
      if (!provider) throw new AppError('ERR_OAUTH_UPSTREAM', `The sign-in provider '${upstream.provider}' is gone`);
      identity = await provider.exchange({
        callbackUrl: url,
        expectedState: upstream.state,
        expectedNonce: upstream.nonce,
        codeVerifier: upstream.verifier,
        redirectUri: callbackUrl,
      });
    } catch (e) {
      await logins.finish(login.id);
      count('sign_in', 'error', isAppError(e) ? e.code : 'ERR_INTERNAL');
      log.warn({ upstream: upstream.provider, err: (e as Error).message }, 'upstream code exchange failed');
      const err = isAppError(e) ? e : new AppError('ERR_OAUTH_UPSTREAM', 'The identity provider could not be reached');
      return page(err.status >= 500 ? 502 : err.status, 'Sign-in failed', err);
    }
    const subject = subjectOf(identity);
    // The identity rules of bearer tokens: verified email, then the email domain selects the tenant.
    if (identity.emailVerified !== true || !identity.email) {
      await logins.finish(login.id);
      count('sign_in', 'denied', 'ERR_AUTH_EMAIL_UNVERIFIED');
      log.warn({ sub: subject }, 'sign-in refused: email not verified');
      return page(
        403,
        'Sign-in refused',
        new AppError(
          'ERR_AUTH_EMAIL_UNVERIFIED',
          'Your identity provider did not confirm that your email address is verified',
        ),
      );
    }
    const email = identity.email.toLowerCase();
    let tenant: Tenant;
    try {
      tenant = await deps.resolveTenant(userOf({ ...identity, subject, email }, request.clientId, request.scopes));
    } catch (e) {
      await logins.finish(login.id);
      count('sign_in', 'denied', isAppError(e) ? e.code : 'ERR_INTERNAL');
      log.warn({ sub: subject, code: (e as AppError).code }, 'sign-in refused: no tenant');
      if (isAppError(e) && e.status < 500) return page(403, 'Sign-in refused', e);
      throw e;
    }
    const csrf = randomToken();
    await logins.update(login.id, { request, identity: { ...identity, email }, subject, tenantId: tenant.id, csrf });
    count('sign_in', 'ok');
    await audit(tenant, 'oauth.sign_in', { subject, provider: upstream.provider }, 'ok', {
      client_id: request.clientId,
      upstream: upstream.provider,
    });
    return { kind: 'redirect', location: `/oauth/consent?login=${encodeURIComponent(login.id)}` };
  }

  // ---- consent ------------------------------------------------------------------------------------

  async function showConsent(q: Params, browser: string | undefined): Promise<Outcome> {
    try {
      const login = await logins.get(single(q, 'login') ?? '', browser);
      const { request, identity, csrf, tenantId } = login.data;
      if (!identity || !csrf || !tenantId)
        throw new AppError('ERR_OAUTH_LOGIN_EXPIRED', 'Sign in first: this sign-in has not reached the consent step');
      return {
        kind: 'page',
        status: 200,
        html: consentPage({
          loginId: login.id,
          csrf,
          user: { email: identity.email, name: identity.name },
          tenant: tenantId,
          client: {
            id: request.clientId,
            name: request.clientName,
            metadataDocument: request.clientId.startsWith('https://'),
          },
          redirectUri: request.redirectUri,
          scopes: request.scopes,
        }),
      };
    } catch (e) {
      if (isAppError(e) && e.status < 500) return page(e.status, 'Consent cannot be shown', e);
      throw e;
    }
  }

  async function decide(form: Params, browser: string | undefined): Promise<Outcome> {
    let login: Login;
    try {
      login = await logins.get(single(form, 'login') ?? '', browser);
    } catch (e) {
      if (e instanceof LoginError) {
        const d = e.login.data;
        count('consent', 'denied', e.code);
        if (d.tenantId && d.subject)
          await audit(
            await tenantById(d.tenantId),
            'oauth.consent',
            { subject: d.subject },
            'denied',
            { client_id: d.request.clientId, reason: 'other browser' },
            e.code,
          );
      }
      if (isAppError(e) && e.status < 500) return page(e.status, 'Consent refused', e);
      throw e;
    }
    const { request, identity, csrf, tenantId, subject, upstream } = login.data;
    if (!identity || !csrf || !tenantId || !subject)
      return page(
        400,
        'Consent refused',
        new AppError('ERR_OAUTH_LOGIN_EXPIRED', 'This sign-in has not reached the consent step'),
      );
    const tenant = await tenantById(tenantId);
    const who = { subject, provider: upstream?.provider, scopes: request.scopes };
    const details = {
      client_id: request.clientId,
      redirect_host: new URL(request.redirectUri).host,
      scopes: request.scopes,
    };
    let given: string | undefined;
    try {
      given = single(form, 'csrf');
    } catch {
      given = undefined;
    }
    if (!given || !safeEqual(given, csrf)) {
      count('consent', 'denied', 'ERR_OAUTH_CSRF');
      await audit(tenant, 'oauth.consent', who, 'denied', { ...details, reason: 'bad csrf token' }, 'ERR_OAUTH_CSRF');
      return page(
        403,
        'Consent refused',
        new AppError(
          'ERR_OAUTH_CSRF',
          'The consent form is not valid (missing or wrong CSRF token); start again from your application',
        ),
      );
    }
    if (!(await logins.finish(login.id)))
      return page(400, 'Consent refused', new AppError('ERR_OAUTH_LOGIN_EXPIRED', 'This consent was already answered'));
    if (form.decision !== 'approve') {
      count('consent', 'denied', 'user_denied');
      await audit(tenant, 'oauth.consent', who, 'denied', { ...details, decision: 'deny' }, 'ERR_OAUTH_ACCESS_DENIED');
      return redirectTo(request, { error: 'access_denied', error_description: 'The user denied access' });
    }
    const { grantId, code } = await grants.create({
      clientId: request.clientId,
      clientName: request.clientName,
      subject,
      tenantId,
      upstream: upstream?.provider ?? 'unknown',
      identity,
      scopes: request.scopes,
      resource: request.resource,
      redirectUri: request.redirectUri,
      redirectGiven: request.redirectGiven,
      codeChallenge: request.codeChallenge,
      codeTtlSeconds: c.codeTtlSeconds,
    });
    count('consent', 'ok');
    await audit(tenant, 'oauth.consent', who, 'ok', { ...details, decision: 'approve', grant: grantId });
    return redirectTo(request, { code });
  }

  // ---- /oauth/token and /oauth/revoke -------------------------------------------------------------

  function oauthError(e: unknown): JsonOutcome {
    if (!isAppError(e) || e.status >= 500) {
      if (!isAppError(e)) log.error({ err: e }, 'token endpoint failed');
      return {
        status: isAppError(e) ? e.status : 500,
        body: { error: 'server_error', error_description: isAppError(e) ? e.message : 'Internal server error' },
      };
    }
    const error = OAUTH_ERROR[e.code] ?? 'invalid_request';
    const headers: Record<string, string> = {};
    if (error === 'invalid_client') headers['WWW-Authenticate'] = 'Basic realm="vault-mcp"';
    return { status: error === 'invalid_client' ? 401 : 400, body: { error, error_description: e.message }, headers };
  }

  async function authenticateClient(form: Params, basic: { id: string; secret: string } | undefined) {
    const bodyId = single(form, 'client_id');
    const bodySecret = single(form, 'client_secret');
    if (basic && (bodySecret !== undefined || (bodyId !== undefined && bodyId !== basic.id)))
      throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'Use one client authentication method, not both');
    const id = basic?.id ?? bodyId;
    if (!id) throw new AppError('ERR_OAUTH_INVALID_CLIENT', 'The request has no client_id');
    return clients.authenticate(id, basic?.secret ?? bodySecret);
  }

  const invalidGrant = (m: string) => new AppError('ERR_OAUTH_INVALID_GRANT', m);

  async function issue(g: Grant, scopes: string[], refreshToken: string): Promise<JsonOutcome> {
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await keys.sign({
      iss: c.issuer,
      aud: g.resource,
      sub: g.subject,
      email: g.email,
      email_verified: true,
      tenant: g.tenantId,
      scope: scopes.join(' '),
      client_id: g.clientId,
      grant_id: g.id,
      idp: g.identity.provider,
      idp_iss: g.identity.issuer,
      ...(g.identity.hostedDomain ? { hd: g.identity.hostedDomain } : {}),
      jti: randomToken(16),
      iat: now,
      exp: now + c.accessTokenTtlSeconds,
    });
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
      body: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: c.accessTokenTtlSeconds,
        refresh_token: refreshToken,
        scope: scopes.join(' '),
      },
    };
  }

  async function revokeGrant(g: Grant, reason: string, event: string): Promise<void> {
    const revoked = await grants.revoke({ id: g.id }, reason);
    count(event, 'denied', reason);
    if (revoked.length)
      await audit(
        await tenantById(g.tenantId),
        `oauth.${event}`,
        { subject: g.subject, provider: g.upstream },
        'denied',
        {
          client_id: g.clientId,
          grant: g.id,
          revoked: reason,
        },
        'ERR_OAUTH_INVALID_GRANT',
      );
  }

  async function token(form: Params, basic?: { id: string; secret: string }): Promise<JsonOutcome> {
    // Once a code or refresh token names a grant, the user is known: a refusal is audited in their tenant.
    let known: Grant | undefined;
    let audited = false;
    try {
      const client = await authenticateClient(form, basic);
      const grantType = single(form, 'grant_type');
      const resource = single(form, 'resource');
      if (grantType === 'authorization_code') {
        const code = single(form, 'code');
        const verifier = single(form, 'code_verifier');
        const redirectUri = single(form, 'redirect_uri');
        if (!code) throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'The request has no code');
        const row = await grants.consumeCode(code.slice(0, 200));
        if (!row) throw invalidGrant('The authorization code is not valid');
        if ('replayed' in row) {
          // RFC 6749 §4.1.2: a code used twice means it leaked; revoke everything it issued.
          await revokeGrant(row.replayed, 'code_replay', 'code_replay');
          audited = true;
          throw invalidGrant('The authorization code was already used; every token issued with it is revoked');
        }
        const g = (known = row.grant);
        if (row.clientId !== client.client_id)
          throw invalidGrant('The authorization code was issued to another client');
        if (row.expired) throw invalidGrant('The authorization code has expired');
        if (g.revokedAt) throw invalidGrant('The grant was revoked');
        if (redirectUri !== undefined ? redirectUri !== row.redirectUri : row.redirectGiven)
          throw invalidGrant('redirect_uri does not match the one of the authorization request');
        if (!verifier) throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'PKCE: the request has no code_verifier');
        if (!VERIFIER_RE.test(verifier)) throw invalidGrant('PKCE: code_verifier must be 43-128 unreserved characters');
        if (!safeEqual(s256(verifier), row.codeChallenge))
          throw invalidGrant('PKCE: code_verifier does not match the code_challenge');
        if (resource !== undefined && resource !== g.resource)
          throw new AppError('ERR_OAUTH_INVALID_TARGET', `resource must be ${g.resource}`);
        const refresh = await grants.issueRefresh(g.id);
        count('token', 'ok');
        const out = await issue(g, g.scopes, refresh);
        await audit(
          await tenantById(g.tenantId),
          'oauth.token',
          { subject: g.subject, provider: g.upstream, scopes: g.scopes },
          'ok',
          {
            client_id: g.clientId,
            grant: g.id,
            grant_type: 'authorization_code',
          },
        );
        return out;
      }
      if (grantType === 'refresh_token') {
        const presented = single(form, 'refresh_token');
        if (!presented) throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'The request has no refresh_token');
        const found = await grants.lookupRefresh(presented);
        if (found.kind === 'unknown') throw invalidGrant('The refresh token is not valid');
        const g = (known = found.grant);
        if (g.clientId !== client.client_id) throw invalidGrant('The refresh token was issued to another client');
        if (found.kind === 'reused') {
          await revokeGrant(g, 'refresh_reuse', 'refresh_reuse');
          audited = true;
          throw invalidGrant('The refresh token was already used; the grant is revoked (sign in again)');
        }
        if (g.revokedAt) throw invalidGrant('The grant was revoked; sign in again');
        if (found.kind === 'expired') throw invalidGrant('The refresh token has expired; sign in again');
        if (resource !== undefined && resource !== g.resource)
          throw new AppError('ERR_OAUTH_INVALID_TARGET', `resource must be ${g.resource}`);
        const scopeParam = single(form, 'scope');
        const scopes = scopeParam === undefined ? g.scopes : scopeParam.split(' ').filter(Boolean);
        const beyond = scopes.filter((s) => !g.scopes.includes(s));
        if (beyond.length || !scopes.length) {
          audited = true;
          count('refresh', 'denied', 'ERR_OAUTH_INVALID_SCOPE');
          await audit(
            await tenantById(g.tenantId),
            'oauth.refresh',
            { subject: g.subject, provider: g.upstream, scopes },
            'denied',
            {
              client_id: g.clientId,
              grant: g.id,
              beyond,
            },
            'ERR_OAUTH_INVALID_SCOPE',
          );
          throw new AppError(
            'ERR_OAUTH_INVALID_SCOPE',
            beyond.length
              ? `A refresh cannot add scopes (${beyond.join(' ')}); authorize again to ask for them`
              : 'scope is empty',
          );
        }
        // Removing the user's domain (or the tenant) ends the grant.
        const { tenant, problem } = await currentTenant(g);
        if (problem) {
          await revokeGrant(g, 'tenant_changed', 'refresh');
          throw problem;
        }
        let next: string;
        try {
          next = await found.rotate();
        } catch (e) {
          if (e instanceof RefreshRaceError) {
            await revokeGrant(g, 'refresh_reuse', 'refresh_reuse');
            audited = true;
            throw invalidGrant('The refresh token was already used; the grant is revoked (sign in again)');
          }
          throw e;
        }
        count('refresh', 'ok');
        const out = await issue(g, scopes, next);
        await audit(tenant, 'oauth.refresh', { subject: g.subject, provider: g.upstream, scopes }, 'ok', {
          client_id: g.clientId,
          grant: g.id,
        });
        return out;
      }
      throw new AppError(
        'ERR_OAUTH_UNSUPPORTED',
        `grant_type must be authorization_code or refresh_token (got ${String(grantType ?? 'none').slice(0, 64)})`,
      );
    } catch (e) {
      if (isAppError(e)) count('token', 'denied', e.code);
      if (known && !audited && isAppError(e) && e.status < 500)
        await audit(
          await tenantById(known.tenantId),
          'oauth.token',
          { subject: known.subject, provider: known.upstream, scopes: known.scopes },
          'denied',
          { client_id: known.clientId, grant: known.id, grant_type: String(form.grant_type), reason: e.message },
          e.code,
        );
      return oauthError(e);
    }
  }

  /** RFC 7009: 200 for unknown or foreign tokens (nothing to learn); a known one ends its whole grant. */
  async function revoke(form: Params, basic?: { id: string; secret: string }): Promise<JsonOutcome> {
    try {
      const client = await authenticateClient(form, basic);
      const t = single(form, 'token');
      if (!t) throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'The request has no token');
      let grantId: string | undefined;
      if (t.startsWith(REFRESH_PREFIX)) {
        const found = await grants.lookupRefresh(t);
        if (found.kind !== 'unknown' && found.grant.clientId === client.client_id) grantId = found.grant.id;
      } else {
        const claims = await verifyOwnSignature(t);
        if (claims && claims.client_id === client.client_id && typeof claims.grant_id === 'string')
          grantId = claims.grant_id;
      }
      if (grantId) {
        const [g] = await grants.revoke({ id: grantId }, 'client_revoked');
        if (g) {
          count('revoke', 'ok');
          await audit(
            await tenantById(g.tenantId),
            'oauth.revoke',
            { subject: g.subject, provider: g.upstream },
            'ok',
            {
              client_id: g.clientId,
              grant: g.id,
            },
          );
        }
      }
      return { status: 200, body: {}, headers: { 'Cache-Control': 'no-store' } };
    } catch (e) {
      return oauthError(e);
    }
  }

  async function verifyOwnSignature(t: string): Promise<Record<string, unknown> | undefined> {
    const { jwtVerify } = await import('jose');
    try {
      const { payload } = await jwtVerify(t, keys.getKey, { issuer: c.issuer, clockTolerance: 1e9 });
      return payload;
    } catch {
      return undefined;
    }
  }

  function metadata() {
    return {
      issuer: c.issuer,
      authorization_endpoint: `${c.issuer}/authorize`,
      token_endpoint: `${c.issuer}/oauth/token`,
      ...(c.dcr.enabled ? { registration_endpoint: `${c.issuer}/oauth/register` } : {}),
      revocation_endpoint: `${c.issuer}/oauth/revoke`,
      jwks_uri: `${c.issuer}/oauth/jwks`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      scopes_supported: c.scopesSupported,
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: c.cimd.enabled,
      resource_indicators_supported: true,
    };
  }

  return {
    metadata,
    authorize,
    signIn,
    callback,
    showConsent,
    decide,
    token,
    revoke,
    keys,
    grants,
    clients,
    /** The access-token lifetime (the verifier's grant-status cache may not exceed it). */
    config: c,
  };
}

export type OAuthServer = ReturnType<typeof createOAuthServer>;
