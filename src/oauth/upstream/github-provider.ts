/**
 * GitHub sign-in: plain OAuth 2.0 (no OIDC, no discovery, no ID token). Authorization code + PKCE
 * S256 + state at `<GITHUB_OAUTH_URL>/login/oauth/authorize`, the code redeemed at
 * `/login/oauth/access_token` (JSON; GitHub answers errors with HTTP 200 and an `error` member), then
 * the account from the API with the same rules as GitHub bearer tokens: the VERIFIED PRIMARY email
 * only (`fetchGithubAccount`).
 *
 * @module
 */
import { fetchGithubAccount } from '../../auth/github-verifier.js';
import { AppError } from '../../errors/index.js';
import { fetchUpstream, UpstreamError } from '../../shared/fetch-upstream.js';
import { normalizeEmail } from '../../tenancy/email-domain.js';
import { checkCallback } from './callback.js';
import type { UpstreamProvider } from './types.js';

export interface GithubUpstreamOptions {
  /** `https://github.com` (or a GitHub Enterprise host). */
  oauthUrl: string;
  /** `https://api.github.com` (or `https://host/api/v3`). */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * @example
 * const github = createGithubUpstream({ oauthUrl: 'https://github.com', apiUrl: 'https://api.github.com', clientId, clientSecret, timeoutMs: 5000 });
 */
export function createGithubUpstream(o: GithubUpstreamOptions): UpstreamProvider {
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  const oauthUrl = o.oauthUrl.replace(/\/+$/, '');
  const apiUrl = o.apiUrl.replace(/\/+$/, '');

  async function redeem(code: string, codeVerifier: string, redirectUri: string): Promise<Record<string, unknown>> {
    // fetchUpstream: one timeout over headers and body, a size cap, redirects refused; its errors
    // read "GitHub's sign-in code redemption could not be reached / did not answer within N ms".
    const res = await fetchUpstream(`${oauthUrl}/login/oauth/access_token`, {
      upstream: "GitHub's sign-in code redemption",
      timeoutMs: o.timeoutMs,
      maxBytes: 64 * 1024,
      fetch: doFetch,
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'vault-mcp',
      },
      body: new URLSearchParams({
        client_id: o.clientId,
        client_secret: o.clientSecret,
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
      }),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError(
        'ERR_UPSTREAM_UNAVAILABLE',
        `GitHub answered HTTP ${res.status} when redeeming the sign-in code; try again shortly`,
        { provider: 'github' },
      );
    }
    const body = (await res.json().catch((e: unknown) => {
      if (e instanceof UpstreamError) throw e; // timed out or oversized while reading
      return null;
    })) as Record<string, unknown> | null;
    if (!body || typeof body !== 'object')
      throw new AppError('ERR_UPSTREAM_INVALID', 'GitHub answered the code redemption with something other than JSON');
    if (typeof body.error === 'string') {
      const desc = typeof body.error_description === 'string' ? `: ${body.error_description.slice(0, 200)}` : '';
      if (body.error === 'incorrect_client_credentials')
        throw new AppError(
          'ERR_UPSTREAM_INVALID',
          `GitHub refused this server's OAuth app credentials (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET)${desc}`,
          { provider: 'github' },
        );
      throw new AppError(
        'ERR_UPSTREAM_DENIED',
        `GitHub refused the sign-in code (${body.error.slice(0, 60)}${desc}); start the sign-in again`,
        { provider: 'github', upstreamError: body.error.slice(0, 60) },
      );
    }
    if (typeof body.access_token !== 'string' || !body.access_token)
      throw new AppError('ERR_UPSTREAM_INVALID', 'GitHub answered the code redemption without an access_token');
    return body;
  }

  return {
    id: 'github',
    displayName: 'GitHub',

    authorizationUrl(input) {
      const u = new URL(`${oauthUrl}/login/oauth/authorize`);
      u.search = new URLSearchParams({
        client_id: o.clientId,
        redirect_uri: input.redirectUri,
        // read:user for /user, user:email for the verified primary email.
        scope: 'read:user user:email',
        state: input.state,
        code_challenge: input.codeChallenge,
        code_challenge_method: 'S256',
        allow_signup: 'false',
      }).toString();
      return Promise.resolve(u);
    },

    async exchange(input) {
      // GitHub sends no `iss` today; if one comes, it must be on GitHub's origin.
      const code = checkCallback(input.callbackUrl, {
        providerName: 'GitHub',
        expectedState: input.expectedState,
        issuer: oauthUrl,
        issOriginOnly: true,
      });
      const tokens = await redeem(code, input.codeVerifier, input.redirectUri);
      const accessToken = tokens.access_token as string;
      const account = await fetchGithubAccount(apiUrl, accessToken, doFetch);
      return {
        subject: String(account.id),
        provider: 'github',
        issuer: apiUrl,
        email: normalizeEmail(account.email).email, // ASCII checked before lower-casing (Kelvin sign)
        emailVerified: true,
        name: account.name ?? account.login,
        upstreamTokens: {
          accessToken,
          ...(typeof tokens.refresh_token === 'string' ? { refreshToken: tokens.refresh_token } : {}),
          ...(typeof tokens.expires_in === 'number' ? { expiresAt: Math.floor(now() / 1000) + tokens.expires_in } : {}),
          obtainedAt: Math.floor(now() / 1000),
        },
      };
    },
  };
}
