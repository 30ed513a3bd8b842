/**
 * GitHub user tokens (`gho_`, `ghu_`, `ghp_`, `github_pat_`): opaque, so they are checked by calling
 * the GitHub API as the user: `GET /user` (who) and `GET /user/emails` (the primary email, used only
 * when GitHub says it is verified). Results are cached by token hash. GitHub tokens carry no vault
 * scopes: callers get the configured default scopes.
 *
 * @module
 */
import { AppError, AuthError } from '../errors/index.js';
import { fetchUpstream } from '../shared/fetch-upstream.js';
import type { OpaqueVerifier } from './create-verifier.js';
import { cachedIntrospection } from './opaque-cache.js';
import type { UserContext } from './types.js';

export interface GithubOptions {
  /** `https://api.github.com` or a GitHub Enterprise `https://host/api/v3`. */
  apiUrl: string;
  defaultScopes: string[];
  /**
   * Our GitHub OAuth app. When set, every token is checked with `POST /applications/{id}/token`
   * and refused unless it was issued to this app (GitHub tokens have no audience otherwise).
   */
  app?: { clientId: string; clientSecret: string };
  cacheTtlMs: number;
  negativeCacheTtlMs: number;
  /** Bound on cached results (IDENTITY_CACHE_MAX). */
  cacheMaxEntries?: number;
  fetch?: typeof fetch;
}

/**
 * @example
 * const github = createGithubVerifier({ apiUrl: 'https://api.github.com', defaultScopes: ['vault:read'], cacheTtlMs: 300_000, negativeCacheTtlMs: 30_000 });
 */
export function createGithubVerifier(opts: GithubOptions): OpaqueVerifier {
  const doFetch = opts.fetch ?? fetch;
  const base = opts.apiUrl.replace(/\/+$/, '');

  /** Confused-deputy check: the token must belong to our OAuth app, not to any app the user uses. */
  async function checkApp(token: string, app: { clientId: string; clientSecret: string }): Promise<void> {
    const res = await fetchUpstream(`${base}/applications/${encodeURIComponent(app.clientId)}/token`, {
      upstream: 'The GitHub API',
      timeoutMs: 5000,
      fetch: doFetch,
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`,
        accept: 'application/vnd.github+json',
        'content-type': 'application/json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'vault-mcp',
      },
      body: JSON.stringify({ access_token: token }),
    });
    await res.body?.cancel();
    // 404: not a token of this app (or revoked); 422: not a token at all.
    if (res.status === 404 || res.status === 422) {
      throw new AuthError(
        'ERR_AUTH_INVALID_TOKEN',
        "The GitHub token was not issued to this server's GitHub OAuth app (GITHUB_CLIENT_ID)",
      );
    }
    if (res.status === 401)
      throw new AppError(
        'ERR_UPSTREAM_UNAVAILABLE',
        'GitHub refused our OAuth app credentials (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET)',
      );
    if (!res.ok)
      throw new AppError(
        'ERR_UPSTREAM_UNAVAILABLE',
        `The GitHub API answered HTTP ${res.status} for the app token check; try again shortly`,
      );
  }

  async function introspect(token: string): Promise<UserContext> {
    if (opts.app) await checkApp(token, opts.app);
    const account = await fetchGithubAccount(base, token, doFetch);
    return {
      subject: `github:${account.id}`,
      provider: 'github',
      issuer: base,
      email: account.email,
      emailVerified: true,
      scopes: [...opts.defaultScopes],
      clientId: opts.app?.clientId ?? '',
      // GitHub does not tell us when a token expires: the cache TTL bounds how long we trust it.
      expiresAt: Math.floor((Date.now() + opts.cacheTtlMs) / 1000),
    };
  }

  return {
    provider: 'github',
    verify: cachedIntrospection(introspect, {
      ttlMs: opts.cacheTtlMs,
      negativeTtlMs: opts.negativeCacheTtlMs,
      maxEntries: opts.cacheMaxEntries,
    }),
  };
}

/** A GitHub account as the API proves it: numeric id, login and the VERIFIED primary email. */
export interface GithubAccount {
  id: number;
  login: string;
  email: string;
  name?: string;
}

/**
 * Who the token belongs to: `GET /user`, then the primary email from `GET /user/emails`, used only
 * when GitHub says it is verified (shared by the bearer-token verifier and GitHub sign-in).
 *
 * @example
 * const { id, email } = await fetchGithubAccount('https://api.github.com', token, fetch);
 */
export async function fetchGithubAccount(base: string, token: string, doFetch: typeof fetch): Promise<GithubAccount> {
  const user = (await githubGet(base, '/user', token, doFetch)) as {
    id?: unknown;
    login?: unknown;
    name?: unknown;
  } | null;
  if (typeof user?.id !== 'number' || typeof user.login !== 'string') {
    throw new AppError('ERR_UPSTREAM_UNAVAILABLE', 'The GitHub API returned an unexpected /user document');
  }
  const emails = (await githubGet(base, '/user/emails', token, doFetch)) as
    { email?: unknown; primary?: unknown; verified?: unknown }[] | null;
  const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true) : undefined;
  if (!primary || typeof primary.email !== 'string') {
    throw new AuthError('ERR_AUTH_EMAIL_UNVERIFIED', `The GitHub account ${user.login} has no primary email`);
  }
  if (primary.verified !== true) {
    throw new AuthError(
      'ERR_AUTH_EMAIL_UNVERIFIED',
      `The primary email of the GitHub account ${user.login} is not verified`,
    );
  }
  return {
    id: user.id,
    login: user.login,
    email: primary.email,
    ...(typeof user.name === 'string' && user.name ? { name: user.name } : {}),
  };
}

async function githubGet(base: string, path: string, token: string, doFetch: typeof fetch): Promise<unknown> {
  const res = await fetchUpstream(`${base}${path}`, {
    upstream: 'The GitHub API',
    timeoutMs: 5000,
    fetch: doFetch,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'vault-mcp',
    },
  });
  if (res.status === 401) {
    await res.body?.cancel();
    throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'GitHub rejected the token (invalid, expired or revoked)');
  }
  if ((res.status === 403 || res.status === 404) && path === '/user/emails') {
    await res.body?.cancel();
    throw new AuthError(
      'ERR_AUTH_INVALID_TOKEN',
      "The GitHub token cannot read the user's emails; grant the 'user:email' scope (or 'Email addresses: read' for fine-grained tokens)",
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new AppError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `The GitHub API answered HTTP ${res.status} for ${path}; try again shortly`,
    );
  }
  return res.json().catch(() => null);
}
