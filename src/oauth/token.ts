/**
 * The token side of the authorization server: `/oauth/token` (authorization_code, refresh_token) and
 * `/oauth/revoke` (RFC 7009), with client authentication.
 *
 * @module
 */
import { jwtVerify } from 'jose';
import { AppError, isAppError, SignInAgainError } from '../errors/index.js';
import { OAUTH_ERROR, type Core, type JsonOutcome, type Params } from './core.js';
import { RefreshRaceError, REFRESH_PREFIX, type Grant } from './grants.js';
import { randomToken, s256, safeEqual, VERIFIER_RE } from './util.js';

/**
 * @example
 * const { token, revoke } = createTokenEndpoints(core);
 */
export function createTokenEndpoints(core: Core) {
  const { c, log, keys, grants, clients, count, audit, currentTenant, tenantById, single, upstreamTokens } = core;

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
    // Some public clients send `Basic base64(client_id:)`: an empty secret is no secret.
    const secret = basic?.secret ?? bodySecret;
    return clients.authenticate(id, secret === '' ? undefined : secret);
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
        // A grant lives at most OAUTH_GRANT_MAX_AGE_SECONDS: we cannot ask the upstream whether the user
        // is still active, so a fresh sign-in there is how a deactivation takes effect.
        if (Date.now() - g.createdAt.getTime() > c.grantMaxAgeSeconds * 1000) {
          await revokeGrant(g, 'max_age', 'refresh');
          throw invalidGrant(
            `This sign-in is older than ${c.grantMaxAgeSeconds} s (OAUTH_GRANT_MAX_AGE_SECONDS); sign in again`,
          );
        }
        // Removing the user's domain (or the tenant), or the tenant requiring its own IdP, ends the grant.
        const { tenant, problem, reason } = await currentTenant(g);
        if (problem) {
          await revokeGrant(g, reason ?? 'tenant_changed', 'refresh');
          throw problem;
        }
        // oauth-mode Vault needs a live upstream token for its exchange: renewed here when due. One that
        // cannot be renewed ends the grant, so the client signs in again (else it would refresh, get a
        // 401, refresh …). An unreachable upstream is a 503: the grant stays.
        if (tenant?.vault.auth.mode === 'oauth') {
          try {
            await upstreamTokens.accessToken(g.id);
          } catch (e) {
            if (!(e instanceof SignInAgainError)) throw e;
            await revokeGrant(g, 'upstream_expired', 'refresh');
            throw invalidGrant(`${e.message} (authorize again)`);
          }
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
    try {
      const { payload } = await jwtVerify(t, keys.getKey, { issuer: c.issuer, clockTolerance: 1e9 });
      return payload;
    } catch {
      return undefined;
    }
  }

  return { token, revoke };
}
