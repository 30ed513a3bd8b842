/**
 * The browser side of the authorization server: `/authorize`, the provider chooser, the upstream
 * leg and its callback, and the consent page and decision.
 *
 * @module
 */
import type { OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import { AppError, isAppError } from '../errors/index.js';
import { normalizeEmail } from '../tenancy/email-domain.js';
import type { Tenant } from '../tenancy/tenant.js';
import { OAUTH_ERROR, subjectOf, userOf, type Core, type Outcome, type Params } from './core.js';
import { LoginError, type AuthorizeRequest, type Login } from './logins.js';
import { chooserPage, consentPage } from './pages.js';
import { redirectMatches } from './redirect-uris.js';
import { callbackPath } from './upstream/callback.js';
import type { UpstreamIdentity, UpstreamProvider } from './upstream/types.js';
import { CHALLENGE_RE, randomToken, s256, safeEqual } from './util.js';

/**
 * An address worth routing by (home-realm discovery): printable ASCII only, so lower-casing cannot fold
 * a look-alike (the Kelvin sign) into another tenant's domain. The IdP's answer is checked again.
 */
const EMAIL_RE = /^[\x21-\x3f\x41-\x7e]{1,64}@[\x21-\x3f\x41-\x7e]{1,253}$/;

/**
 * Scopes clients commonly add that grant nothing here: refresh tokens are always issued, and the OIDC
 * identity scopes are what the upstream sign-in is for (we issue no ID token). Ignored, not refused.
 */
const IGNORED_SCOPES = new Set(['offline_access', 'openid', 'email', 'profile']);

/**
 * @example
 * const { authorize, signIn, callback, showConsent, decide } = createAuthorizeEndpoints(core);
 */
export function createAuthorizeEndpoints(core: Core) {
  const { deps, c, log, grants, logins, clients, count, audit, tenantById, redirectTo, page, refuseToClient, single } =
    core;
  // Each upstream has its own callback URL (mix-up defence): register it at that provider.
  const callbackUrl = (providerId: string) => `${c.issuer}${callbackPath(providerId)}`;
  const supported = new Set(c.scopesSupported);
  let lastPurge = 0;

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

    // Phase 2: the request itself. Problems go back to the registered redirect URI, but only a loopback
    // one automatically: anyone can register a client, so any other gets a page the user must click on.
    let state: string | undefined;
    try {
      state = single(q, 'state');
      if (state !== undefined && state.length > 1024)
        throw new AppError('ERR_OAUTH_INVALID_REQUEST', 'state is longer than 1024 characters');
    } catch (e) {
      count('authorize', 'denied', 'invalid_request');
      return refuseToClient({ redirectUri, state: undefined }, 'invalid_request', (e as Error).message);
    }
    const fail = (error: string, description: string) => {
      count('authorize', 'denied', error);
      return refuseToClient({ redirectUri, state }, error, description);
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
      // A registered `scope` is not enforced: anyone may register any scope, so it protects nothing,
      // and enforcing it would stop step-up for clients that registered narrowly. Consent is the guard.
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
    // OIDC's login_hint: passed on to the upstream, and used for home-realm discovery when it is an email.
    let email: string | undefined;
    try {
      const hint = single(q, 'login_hint')?.trim().slice(0, 320);
      email = hint && EMAIL_RE.test(hint) ? hint.toLowerCase() : undefined;
    } catch {
      email = undefined;
    }
    const login = { id: loginId, data: { request } };
    if (providers.length === 1) return startUpstream(login, providers[0]!, email);
    const home = email ? await deps.upstreams.forEmail(email) : undefined;
    if (home) return startUpstream(login, home, email);
    return chooser(loginId, request, undefined, email);
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
      redirectUri: callbackUrl(provider.id),
      loginHint,
    });
    return { kind: 'redirect', location: url.href };
  }

  /** GET /oauth/signin?login=…&provider=… | &email=… (the chooser's links and form). */
  async function signIn(q: Params, browser: string | undefined): Promise<Outcome> {
    try {
      const login = await logins.get(single(q, 'login') ?? '', browser);
      const providerId = single(q, 'provider');
      const given = single(q, 'email')?.trim();
      const email = given && EMAIL_RE.test(given) ? given.toLowerCase() : given;
      let provider: UpstreamProvider | undefined;
      if (providerId) {
        provider = await deps.upstreams.get(providerId);
        if (!provider)
          return chooser(login.id, login.data.request, `There is no sign-in provider '${providerId.slice(0, 64)}'`);
      } else if (email) {
        if (!EMAIL_RE.test(email)) return chooser(login.id, login.data.request, 'That is not an email address', email);
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

  // ---- /oauth/callback/<provider> ---------------------------------------------------------------

  /**
   * The upstream's answer. `arrivedFor` is the provider whose callback path it came to (undefined: the
   * retired shared `/oauth/callback`); it must be the provider the sign-in was started with, else the
   * answer is refused before its code goes anywhere (IdP mix-up, RFC 9700 §4.4: a code of provider B
   * must never be redeemed, with our PKCE verifier, at provider A's token endpoint).
   */
  async function callback(url: URL, browser: string | undefined, arrivedFor: string | undefined): Promise<Outcome> {
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
    if (arrivedFor !== upstream.provider) {
      // Ended here: whoever sent this answer holds this sign-in's state, so it is not to be trusted further.
      await logins.finish(login.id);
      count('sign_in', 'denied', 'ERR_UPSTREAM_MIXUP');
      log.warn(
        { upstream: upstream.provider, arrivedFor: arrivedFor ?? '(shared /oauth/callback)' },
        'upstream answer on another callback path refused (mix-up defence)',
      );
      const expected = callbackUrl(upstream.provider);
      const err = new AppError(
        'ERR_UPSTREAM_MIXUP',
        arrivedFor === undefined
          ? `The identity provider answered at the shared callback URL ${c.issuer}/oauth/callback, which this server no longer accepts: each identity provider has its own. The administrator must register ${expected} at the provider '${upstream.provider}'. Nothing was issued; start the sign-in again`
          : `This sign-in was started with the provider '${upstream.provider}', but the answer arrived at the callback of '${arrivedFor.slice(0, 80)}' (identity-provider mix-up): refused, no code was redeemed and nothing was issued; start the sign-in again`,
      );
      return page(400, 'Sign-in refused', err, { request, error: 'access_denied' });
    }
    const upstreamError = url.searchParams.get('error');
    if (upstreamError) {
      // The user (or the identity provider) said no: tell the client, which is waiting for an answer.
      await logins.finish(login.id);
      count('sign_in', 'denied', 'upstream_error');
      log.info({ upstream: upstream.provider, error: upstreamError.slice(0, 64) }, 'upstream sign-in refused');
      return refuseToClient(
        request,
        'access_denied',
        `The sign-in at the identity provider was not completed (${upstreamError.slice(0, 64)})`,
        'Sign-in not completed',
      );
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
        redirectUri: callbackUrl(upstream.provider),
      });
    } catch (e) {
      await logins.finish(login.id);
      count('sign_in', 'error', isAppError(e) ? e.code : 'ERR_INTERNAL');
      log.warn({ upstream: upstream.provider, err: (e as Error).message }, 'upstream code exchange failed');
      const err = isAppError(e) ? e : new AppError('ERR_OAUTH_UPSTREAM', 'The identity provider could not be reached');
      return page(err.status >= 500 ? 502 : err.status, 'Sign-in failed', err, {
        request,
        error: err.status >= 500 ? 'server_error' : 'access_denied',
      });
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
        { request, error: 'access_denied' },
      );
    }
    let email: string;
    let tenant: Tenant;
    try {
      // ASCII before lower-casing, as for bearer tokens: 'ann@merc\u212A.com' is refused, not ann@merck.com.
      email = normalizeEmail(identity.email).email;
      tenant = await deps.resolveTenant(userOf({ ...identity, subject, email }, request.clientId, request.scopes));
      // A tenant's own identity provider speaks for that tenant only: an address it vouches for in
      // another tenant's domain is refused (the other tenant does not trust that provider).
      if (upstream.provider.startsWith('tenant:') && upstream.provider !== `tenant:${tenant.id}`)
        throw new AppError(
          'ERR_OAUTH_ACCESS_DENIED',
          `The identity provider of tenant '${upstream.provider.slice(7)}' cannot sign in ${email}, which belongs to another tenant`,
        );
    } catch (e) {
      await logins.finish(login.id);
      count('sign_in', 'denied', isAppError(e) ? e.code : 'ERR_INTERNAL');
      log.warn({ sub: subject, code: (e as AppError).code }, 'sign-in refused: unusable email or no tenant');
      if (isAppError(e) && e.status < 500) return page(403, 'Sign-in refused', e, { request, error: 'access_denied' });
      throw e;
    }
    const csrf = randomToken();
    // `upstream` stays: the grant records which provider signed the user in (SSO enforcement reads it);
    // its state no longer finds this sign-in once the identity is set (logins.update).
    await logins.update(login.id, {
      request,
      upstream,
      identity: { ...identity, email },
      subject,
      tenantId: tenant.id,
      csrf,
    });
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
      // Only the `oauth` Vault mode needs the upstream token (its RFC 8693 exchange): keep no more.
      keepUpstreamTokens: tenant?.vault.auth.mode === 'oauth',
    });
    count('consent', 'ok');
    await audit(tenant, 'oauth.consent', who, 'ok', { ...details, decision: 'approve', grant: grantId });
    return redirectTo(request, { code });
  }

  return { authorize, signIn, callback, showConsent, decide };
}
