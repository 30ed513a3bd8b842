/**
 * Checks every upstream callback gets before its code is redeemed, whatever the provider: an error
 * response (RFC 6749 §4.1.2.1) becomes a clear refusal, the `state` must be the one we sent, the
 * `iss` parameter (RFC 9207) must name the upstream when it is present, and a code must be there.
 * The redirect_uri sent to the token endpoint is always the configured one (never the URL as
 * received, which a proxy may have rewritten).
 *
 * @module
 */
import { AppError } from '../../errors/index.js';
import { safeEqual } from '../util.js';

const DENIALS: Record<string, string> = {
  access_denied: 'the sign-in was cancelled or refused',
  login_required: 'the user is not signed in there',
  consent_required: 'the user did not consent',
  interaction_required: 'the user must interact with the sign-in page',
  account_selection_required: 'the user must pick an account',
  unauthorized_client: 'this server is not allowed to use that sign-in (check the client registration)',
  invalid_scope: 'the requested scopes were refused (openid email profile)',
  temporarily_unavailable: 'it is temporarily unavailable',
  server_error: 'it failed internally',
};

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/**
 * Validate the callback; return its code.
 *
 * @example
 * const code = checkCallback(input.callbackUrl, { providerName: 'Google', expectedState, issuer });
 */
export function checkCallback(
  url: URL,
  o: {
    providerName: string;
    expectedState: string;
    issuer?: string;
    requireIss?: boolean;
    /** Plain OAuth providers publish no issuer identifier: any `iss` on the issuer's origin is theirs. */
    issOriginOnly?: boolean;
  },
): string {
  const q = url.searchParams;
  const state = q.get('state');
  // State first: an error response with a foreign state is not ours to report.
  if (state === null || !safeEqual(state, o.expectedState)) {
    throw new AppError(
      'ERR_BAD_REQUEST',
      `The ${o.providerName} callback's state does not match this sign-in (${state === null ? 'missing' : 'different'}); start the sign-in again`,
    );
  }
  const iss = q.get('iss');
  if (iss !== null && o.issuer !== undefined && iss !== o.issuer && !(o.issOriginOnly && sameOrigin(iss, o.issuer))) {
    throw new AppError(
      'ERR_UPSTREAM_INVALID',
      `The ${o.providerName} callback names issuer "${iss.slice(0, 200)}", expected "${o.issuer}" (RFC 9207 mix-up defence)`,
    );
  }
  if (iss === null && o.requireIss) {
    throw new AppError(
      'ERR_UPSTREAM_INVALID',
      `The ${o.providerName} callback lacks the iss parameter its metadata promises (RFC 9207)`,
    );
  }
  const error = q.get('error');
  if (error !== null) {
    const description = (q.get('error_description') ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 300);
    const what = DENIALS[error] ?? 'it refused the sign-in';
    throw new AppError(
      error === 'temporarily_unavailable' || error === 'server_error'
        ? 'ERR_UPSTREAM_UNAVAILABLE'
        : 'ERR_UPSTREAM_DENIED',
      `Sign-in with ${o.providerName} did not complete: ${what} (${error.slice(0, 60)}${description ? `: ${description}` : ''})`,
      { upstreamError: error.slice(0, 60) },
    );
  }
  const code = q.get('code');
  if (!code)
    throw new AppError('ERR_BAD_REQUEST', `The ${o.providerName} callback carries neither a code nor an error`);
  return code;
}

/**
 * The callback path of one upstream: `/oauth/callback/<provider id>`, a tenant's IdP
 * `/oauth/callback/tenant/<tenant id>`. One path per upstream is the mix-up defence of RFC 9700 §4.4.2
 * (distinct redirect URIs): an answer can only arrive where the provider it came from sends it, so a
 * sign-in started at one provider cannot be completed with another provider's code.
 *
 * @example
 * callbackPath('tenant:acme') // '/oauth/callback/tenant/acme'
 */
export function callbackPath(providerId: string): string {
  const tenant = /^tenant:(.+)$/.exec(providerId)?.[1];
  return tenant === undefined
    ? `/oauth/callback/${encodeURIComponent(providerId)}`
    : `/oauth/callback/tenant/${encodeURIComponent(tenant)}`;
}

/** A redirect URI an administrator registers at one identity provider. */
export interface RedirectUriToRegister {
  provider: string;
  /** Where: the provider's issuer (or GitHub's URL) and, for a tenant's IdP, its display name. */
  at: string;
  redirectUri: string;
}

/**
 * Every redirect URI to register, one per upstream: the server-wide providers configured by env (in
 * display order) and each tenant's own IdP.
 *
 * @example
 * redirectUrisToRegister('https://mcp.acme.com', config.upstream, await listTenants(pool));
 */
export function redirectUrisToRegister(
  publicUrl: string,
  upstream: {
    oidc?: { issuer: string };
    google?: { issuer: string };
    github?: { oauthUrl: string };
    auth0?: { issuer: string };
  },
  tenants: readonly { id: string; idp: { issuer?: string; name?: string } | null }[] = [],
): RedirectUriToRegister[] {
  const at = (id: string, where: string) => ({ provider: id, at: where, redirectUri: publicUrl + callbackPath(id) });
  return [
    ...(upstream.oidc ? [at('oidc', upstream.oidc.issuer)] : []),
    ...(upstream.google ? [at('google', upstream.google.issuer)] : []),
    ...(upstream.github ? [at('github', upstream.github.oauthUrl)] : []),
    ...(upstream.auth0 ? [at('auth0', upstream.auth0.issuer)] : []),
    ...tenants
      .filter((t) => t.idp?.issuer)
      .map((t) => at(`tenant:${t.id}`, `${t.idp!.name ? `${t.idp!.name}, ` : ''}${t.idp!.issuer!}`)),
  ];
}

/** The callback's parameters on the configured redirect URI (what the token request must repeat). */
export function onRedirectUri(callbackUrl: URL, redirectUri: string): URL {
  const u = new URL(redirectUri);
  u.search = callbackUrl.search;
  return u;
}
