/**
 * The Vault token source of `oauth` mode: an OAuth 2.0 Token Exchange (RFC 8693) at the tenant's
 * `vault.auth.tokenEndpoint`. The caller's verified access token (the subject token) is sent there,
 * and only there, in exchange for a token whose audience is the tenant's Vault; that token, never the
 * MCP access token, goes to Vault's OAuth session endpoint. Called once per Vault login (sessions are
 * cached), so the exchanged token is not cached here.
 *
 * Why token exchange rather than client credentials + the user's identity: a client-credentials token
 * names the service, so Vault would have to trust whatever user the service claims (a confused deputy
 * by design). With token exchange the identity provider re-checks the user's own token and issues a
 * token for that user, so Vault's OAuth profile maps a user the identity provider vouched for.
 *
 * @module
 */
import { AppError } from '../errors/index.js';
import { fetchUpstream, UpstreamError } from '../shared/fetch-upstream.js';
import { subjectToken, type CallContext } from '../context/call-context.js';
import type { Tenant } from '../tenancy/tenant.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ISSUED_TYPES = new Set([ACCESS_TOKEN_TYPE, 'urn:ietf:params:oauth:token-type:jwt']);

/** Only JWT access tokens of the organisation's identity provider are exchanged (never API keys, GitHub or Google tokens). */
const EXCHANGEABLE = new Set(['oidc', 'auth0']);

export interface TokenExchangeOptions {
  /** Secret lookup for `clientSecretEnv` (built from the env in main). */
  secrets: (name: string) => string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * @example
 * const sessions = createSessionManager({ store, secrets, oauthToken: createTokenExchange({ secrets }) });
 */
export function createTokenExchange(opts: TokenExchangeOptions): (ctx: CallContext, tenant: Tenant) => Promise<string> {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  return async function exchange(ctx, tenant) {
    const auth = tenant.vault.auth;
    if (auth.mode !== 'oauth') throw new TypeError('token exchange is for oauth mode only');
    const where = `Tenant ${tenant.id}`;
    const fail = (message: string) => new AppError('ERR_VAULT_AUTH', `${where}: ${message}`);
    if (!auth.tokenEndpoint)
      throw fail("vault.auth.tokenEndpoint is not set (oauth mode exchanges the user's token there for a Vault token)");
    const endpoint = new URL(auth.tokenEndpoint);
    // The MCP access token must never reach Vault: refuse a token endpoint that is Vault itself.
    const vault = new URL(tenant.vault.url);
    if (endpoint.origin === vault.origin || endpoint.hostname.endsWith('.veevavault.com')) {
      throw fail(
        "vault.auth.tokenEndpoint points at Vault; it must be the identity provider that issued the users' tokens",
      );
    }
    if (!EXCHANGEABLE.has(ctx.user.provider)) {
      throw fail(
        `Vault sign-in uses OAuth here, which needs a token from your organisation's identity provider (OIDC or Auth0), not a ${ctx.user.provider} credential`,
      );
    }
    const subject = subjectToken(ctx);
    if (!subject) throw fail("the caller's token is not available for the token exchange");

    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      audience: auth.audience ?? tenant.vault.url,
    });
    if (auth.scope) form.set('scope', auth.scope);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (auth.clientSecretEnv) {
      const secret = opts.secrets(auth.clientSecretEnv);
      if (!secret)
        throw fail(`the environment variable ${auth.clientSecretEnv} (vault.auth.clientSecretEnv) is not set`);
      if (!auth.clientId) throw fail('vault.auth.clientId is required with vault.auth.clientSecretEnv');
      // RFC 6749 §2.3.1: form-encode both parts before Basic encoding.
      const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(secret)}`).toString(
        'base64',
      );
      headers.authorization = `Basic ${basic}`;
    } else if (auth.clientId) {
      form.set('client_id', auth.clientId);
    }

    const at = `the token endpoint ${endpoint.host} (vault.auth.tokenEndpoint)`;
    // Errors name the endpoint's host only: the form carries the caller's token.
    const res = await fetchUpstream(endpoint, {
      upstream: `${where}: ${at}`,
      timeoutMs,
      maxBytes: 64 * 1024,
      fetch: doFetch,
      method: 'POST',
      headers,
      body: form,
    });
    const body = (await res.json().catch((e: unknown) => {
      if (e instanceof UpstreamError) throw e; // timed out or oversized while reading
      return undefined;
    })) as Record<string, unknown> | undefined;
    if (res.status >= 500)
      throw new AppError('ERR_UPSTREAM_UNAVAILABLE', `${where}: ${at} answered HTTP ${res.status}`);
    if (!res.ok || !body || typeof body.access_token !== 'string' || !body.access_token) {
      const error =
        typeof body?.error === 'string' ? body.error.slice(0, 100) : `HTTP ${res.status} without an access_token`;
      const description =
        typeof body?.error_description === 'string' ? `: ${body.error_description.slice(0, 300)}` : '';
      throw fail(`the token exchange at ${at} was refused: ${error}${description}`);
    }
    if (typeof body.issued_token_type === 'string' && !ISSUED_TYPES.has(body.issued_token_type)) {
      throw fail(`${at} issued a ${body.issued_token_type.slice(0, 100)}, not an access token`);
    }
    if (body.access_token === subject)
      throw fail(`${at} returned the caller's own token; it would not be a token for Vault`);
    return body.access_token;
  };
}
