/**
 * An upstream OpenID provider (generic OIDC, Google, Auth0, a tenant's Okta/Entra ID …) built on
 * openid-client: endpoints from its discovery document (fetched with a timeout, cached, refetched
 * after a failure), authorization code + PKCE S256 + state + nonce, and a fully checked ID token:
 * issuer, audience (`azp` when several), nonce, expiry, signature against the provider's JWKS
 * (openid-client skips it by default for TLS token responses; we do not), and an algorithm from our
 * allow-list. The identity requires `email_verified` to be the boolean `true` ("true" is refused).
 * When the ID token has no email, it is read from the userinfo endpoint (same subject, same rule).
 * `refresh` renews the tokens kept for the `oauth` Vault mode (refresh token grant; a refreshed ID
 * token is checked like the first one and must name the same subject).
 * The signature is checked with jose against the shared JWKS cache (`src/auth/jwks-cache.ts`): keys
 * are refetched on an unknown `kid` (IdP key rotation, at most once per cooldown), and an outage of
 * the JWKS endpoint is a 503 naming the provider.
 *
 * Plain-HTTP issuers are allowed only on loopback (local fakes and the dev issuer).
 *
 * @module
 */
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { createJwksCache, type JwksCache } from '../../auth/jwks-cache.js';
import type { Provider } from '../../auth/types.js';
import { AppError, AuthError, SignInAgainError } from '../../errors/index.js';
import { normalizeEmail } from '../../tenancy/email-domain.js';
import { checkCallback, onRedirectUri } from './callback.js';
import type { UpstreamIdentity, UpstreamProvider, UpstreamTokens } from './types.js';

export interface OidcUpstreamOptions {
  id: string;
  displayName: string;
  /** Identity rules family (`oidc`, `google`, `auth0`). */
  provider: Provider;
  issuer: string;
  clientId: string;
  /** Unset: a public client (PKCE only). */
  clientSecret?: string;
  /** Asymmetric JWS algorithms accepted for ID tokens. */
  algorithms: readonly string[];
  scope?: string;
  /**
   * Ask for `offline_access` (a refresh token) when the provider lists it in `scopes_supported`: for the
   * `oauth` Vault mode, whose upstream token must be renewed without a new sign-in.
   */
  offlineAccess?: boolean;
  /** Extra authorization request parameters (e.g. Google's `hd`, `prompt`). */
  extraParams?: Record<string, string>;
  timeoutMs: number;
  /** How long discovery is reused; 0 = per sign-in. */
  metadataCacheMs: number;
  /** JWKS refresh age and the minimum time between refetches on unknown kids (JWKS_* keys). */
  jwksMaxAgeMs?: number;
  jwksCooldownMs?: number;
  clockSkewSeconds: number;
  /** Provider-specific checks on the verified claims (Google's `hd`); may add fields to the identity. */
  checkClaims?: (claims: Record<string, unknown>) => Partial<UpstreamIdentity>;
  now?: () => number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * @example
 * const google = createOidcUpstream({ id: 'google', displayName: 'Google', provider: 'google', issuer: 'https://accounts.google.com', clientId, clientSecret, algorithms: ['RS256'], timeoutMs: 5000, metadataCacheMs: 3_600_000, clockSkewSeconds: 60 });
 */
export function createOidcUpstream(
  o: OidcUpstreamOptions,
): UpstreamProvider & Required<Pick<UpstreamProvider, 'refresh'>> {
  const now = o.now ?? Date.now;
  const issuerUrl = new URL(o.issuer);
  const insecure = issuerUrl.protocol === 'http:';
  if (insecure && !LOOPBACK.has(issuerUrl.hostname)) {
    throw new AppError(
      'ERR_TENANT_MISCONFIGURED',
      `The ${o.displayName} issuer ${o.issuer} must use https (plain http only on loopback)`,
    );
  }
  let cached: { config: Promise<client.Configuration>; expires: number } | undefined;
  // Kept across discovery refreshes while the JWKS URL stays the same.
  let jwks: { uri: string; cache: JwksCache } | undefined;

  function keysFor(uri: string): JwksCache {
    if (jwks?.uri !== uri) {
      jwks = {
        uri,
        cache: createJwksCache({
          provider: o.displayName,
          uri,
          maxAgeMs: o.jwksMaxAgeMs,
          cooldownMs: o.jwksCooldownMs,
          timeoutMs: o.timeoutMs,
        }),
      };
    }
    return jwks.cache;
  }

  async function discover(): Promise<client.Configuration> {
    try {
      const config = await client.discovery(
        issuerUrl,
        o.clientId,
        { ...(o.clientSecret ? { client_secret: o.clientSecret } : {}) },
        undefined,
        {
          timeout: Math.max(1, Math.ceil(o.timeoutMs / 1000)),
          execute: insecure ? [client.allowInsecureRequests] : [],
        },
      );
      const meta = config.serverMetadata();
      if (!meta.authorization_endpoint || !meta.token_endpoint || !meta.jwks_uri) {
        throw new Error('the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri');
      }
      // Pick the client authentication the server supports (basic is the spec's default).
      const methods = meta.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
      const auth = !o.clientSecret
        ? client.None()
        : methods.includes('client_secret_basic')
          ? client.ClientSecretBasic(o.clientSecret)
          : client.ClientSecretPost(o.clientSecret);
      const tuned = new client.Configuration(
        meta,
        o.clientId,
        {
          ...(o.clientSecret ? { client_secret: o.clientSecret } : {}),
          [client.clockTolerance]: o.clockSkewSeconds,
        },
        auth,
      );
      tuned.timeout = Math.max(1, Math.ceil(o.timeoutMs / 1000));
      if (insecure) client.allowInsecureRequests(tuned);
      return tuned;
    } catch (e) {
      throw new AppError(
        'ERR_UPSTREAM_UNAVAILABLE',
        `Sign-in with ${o.displayName} is unavailable: its discovery document (${o.issuer}) could not be loaded (${describe(e)}); try again shortly`,
        { provider: o.id },
        { cause: e },
      );
    }
  }

  /** Discovery, cached; a failure is not cached, so the next sign-in tries again. */
  function configuration(): Promise<client.Configuration> {
    if (cached && cached.expires > now()) return cached.config;
    const config = discover();
    cached = { config, expires: now() + o.metadataCacheMs };
    config.catch(() => {
      if (cached?.config === config) cached = undefined;
    });
    return config;
  }

  /** openid-client checked the claims; the signature and algorithm are checked here, with our keys. */
  async function verifySignature(idToken: string, issuer: string, keys: JwksCache): Promise<void> {
    try {
      await jwtVerify(idToken, keys.getKey, {
        algorithms: [...o.algorithms],
        issuer,
        audience: o.clientId,
        clockTolerance: o.clockSkewSeconds,
      });
    } catch (e) {
      if (e instanceof AppError) throw e;
      const why =
        e instanceof joseErrors.JOSEAlgNotAllowed
          ? `it is signed with ${algOf(idToken)}, which is not allowed (allowed: ${o.algorithms.join(', ')})`
          : e instanceof joseErrors.JWKSNoMatchingKey
            ? `its signing key (kid) is not in ${o.displayName}'s JWKS`
            : e instanceof joseErrors.JWSSignatureVerificationFailed
              ? 'its signature does not verify'
              : (e as Error).message;
      throw new AppError('ERR_UPSTREAM_INVALID', `The ${o.displayName} ID token was refused: ${why}`, {
        provider: o.id,
      });
    }
  }

  /** The tokens of a token response; a refresh token the upstream did not rotate is kept. */
  function kept(tokens: client.TokenEndpointResponse, previous?: UpstreamTokens): UpstreamTokens {
    const at = Math.floor(now() / 1000);
    const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
    const idToken = tokens.id_token ?? previous?.idToken;
    return {
      accessToken: tokens.access_token,
      ...(refreshToken ? { refreshToken } : {}),
      ...(idToken ? { idToken } : {}),
      ...(typeof tokens.expires_in === 'number' ? { expiresAt: at + tokens.expires_in } : {}),
      obtainedAt: at,
    };
  }

  /** A refresh refused by the upstream means "sign in again"; outages and our misconfiguration do not. */
  function refreshFailure(e: unknown): AppError {
    if (e instanceof AppError) return e;
    const err = e as { code?: string; error?: string; error_description?: string };
    const refused = e instanceof client.ResponseBodyError || (err.code === 'OAUTH_RESPONSE_BODY_ERROR' && err.error);
    if (!refused || err.error === 'invalid_client') return translate(e, o.displayName, o.id);
    const what = `${String(err.error).slice(0, 60)}${err.error_description ? `: ${err.error_description.slice(0, 200)}` : ''}`;
    if (err.error === 'unauthorized_client' || err.error === 'unsupported_grant_type')
      return new SignInAgainError(
        `${o.displayName} does not let this server renew sign-ins (${what}); an administrator must allow the refresh token grant for its client. Sign in again`,
        'refresh_not_allowed',
      );
    return new SignInAgainError(
      `${o.displayName} refused to renew your sign-in (${what}): it has ended or was revoked there. Sign in again`,
      'refresh_refused',
    );
  }

  return {
    id: o.id,
    displayName: o.displayName,

    async authorizationUrl(input) {
      const config = await configuration();
      const offline =
        o.offlineAccess === true && config.serverMetadata().scopes_supported?.includes('offline_access') === true;
      return client.buildAuthorizationUrl(config, {
        response_type: 'code',
        redirect_uri: input.redirectUri,
        scope: `${o.scope ?? 'openid email profile'}${offline ? ' offline_access' : ''}`,
        state: input.state,
        nonce: input.nonce,
        code_challenge: input.codeChallenge,
        code_challenge_method: 'S256',
        ...(input.loginHint ? { login_hint: input.loginHint } : {}),
        ...o.extraParams,
      });
    },

    async exchange(input) {
      const config = await configuration();
      const meta = config.serverMetadata();
      checkCallback(input.callbackUrl, {
        providerName: o.displayName,
        expectedState: input.expectedState,
        issuer: meta.issuer,
        requireIss: meta.authorization_response_iss_parameter_supported === true,
      });
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, onRedirectUri(input.callbackUrl, input.redirectUri), {
          expectedState: input.expectedState,
          expectedNonce: input.expectedNonce,
          pkceCodeVerifier: input.codeVerifier,
          idTokenExpected: true,
        });
      } catch (e) {
        throw translate(e, o.displayName, o.id);
      }
      const idToken = tokens.id_token!;
      await verifySignature(idToken, meta.issuer, keysFor(meta.jwks_uri!));
      const claims = tokens.claims()! as Record<string, unknown>;
      // openid-client checks exp but not a future iat: a token "issued" later than now is refused.
      if (typeof claims.iat !== 'number' || claims.iat > now() / 1000 + o.clockSkewSeconds) {
        throw new AppError(
          'ERR_UPSTREAM_INVALID',
          `The ${o.displayName} ID token's issued-at time (iat) is in the future`,
        );
      }
      // Some IdPs put the email only in userinfo: read it there (openid-client checks its sub).
      let profile = claims;
      if (claims.email === undefined && meta.userinfo_endpoint) {
        try {
          const info = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
          profile = { ...claims, email: info.email, email_verified: info.email_verified };
        } catch (e) {
          throw translate(e, o.displayName, o.id);
        }
      }
      const email = verifiedEmail(profile, o.displayName, { entra: isEntraIssuer(meta.issuer) });
      const extra = o.checkClaims?.(claims) ?? {};
      return {
        subject: String(claims.sub),
        provider: o.provider,
        issuer: meta.issuer,
        email,
        emailVerified: true,
        ...(typeof claims.name === 'string' && claims.name ? { name: claims.name } : {}),
        ...extra,
        upstreamTokens: kept(tokens),
      };
    },

    async refresh(previous) {
      if (!previous.refreshToken)
        throw new SignInAgainError(
          `${o.displayName} issued no refresh token with this sign-in, so it cannot be renewed. Sign in again`,
          'no_refresh_token',
        );
      const config = await configuration();
      const meta = config.serverMetadata();
      // The refresh token goes back only to the issuer that issued it (a tenant may have changed its IdP).
      const before = previous.idToken ? decodeJwt(previous.idToken) : undefined;
      if (before && before.iss !== meta.issuer)
        throw new SignInAgainError(
          `The sign-in was made at ${String(before.iss).slice(0, 200)}, but ${o.displayName} is now ${meta.issuer}. Sign in again`,
          'provider_changed',
        );
      let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
      try {
        tokens = await client.refreshTokenGrant(config, previous.refreshToken);
      } catch (e) {
        throw refreshFailure(e);
      }
      if (tokens.id_token) {
        // openid-client checked its claims; the signature and the subject are ours to check.
        await verifySignature(tokens.id_token, meta.issuer, keysFor(meta.jwks_uri!));
        const sub = tokens.claims()?.sub;
        if (before && sub !== before.sub)
          throw new AppError(
            'ERR_UPSTREAM_INVALID',
            `The ${o.displayName} ID token of the renewed sign-in names another subject than the sign-in`,
            { provider: o.id },
          );
      }
      return kept(tokens, previous);
    },
  };
}

/** Microsoft Entra ID: the one issuer family whose ID tokens prove email ownership with `xms_edov`. */
export function isEntraIssuer(issuer: string): boolean {
  try {
    return new URL(issuer).hostname === 'login.microsoftonline.com';
  } catch {
    return false;
  }
}

/**
 * The email, only when the upstream vouches for it with the boolean `true`. Entra ID sends no
 * `email_verified` for work accounts; there (only) the optional claim `xms_edov: true` (the email's
 * domain is verified by the directory's owner) stands in for it when `email_verified` is absent.
 */
export function verifiedEmail(
  claims: Record<string, unknown>,
  providerName: string,
  opts: { entra?: boolean } = {},
): string {
  if (typeof claims.email !== 'string' || !claims.email) {
    throw new AuthError(
      'ERR_AUTH_EMAIL_UNVERIFIED',
      `${providerName} returned no email for this account; the 'email' scope is required`,
    );
  }
  if (opts.entra && claims.email_verified === undefined) {
    if (claims.xms_edov === true) return normalizeEmail(claims.email).email;
    throw new AuthError(
      'ERR_AUTH_EMAIL_UNVERIFIED',
      `${providerName} does not vouch for the email ${claims.email}: add the optional ID-token claims email and xms_edov to the app registration (xms_edov is ${JSON.stringify(claims.xms_edov) ?? 'missing'}, not true)`,
    );
  }
  if (claims.email_verified !== true) {
    throw new AuthError(
      'ERR_AUTH_EMAIL_UNVERIFIED',
      `${providerName} does not vouch for the email ${claims.email} (email_verified is ${JSON.stringify(claims.email_verified) ?? 'missing'}, not true)`,
    );
  }
  // ASCII is checked before lower-casing: 'ann@merc\u212A.com' (Kelvin sign) must not become ann@merck.com.
  return normalizeEmail(claims.email).email;
}

function describe(e: unknown): string {
  const err = e as { message?: string; cause?: unknown; code?: string; name?: string };
  const cause = err.cause as { message?: string; status?: number } | undefined;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
  if (cause && typeof (cause as { status?: unknown }).status === 'number') return `HTTP ${cause.status}`;
  const inner = cause?.message && cause.message !== err.message ? `: ${cause.message}` : '';
  return `${err.message ?? String(e)}${inner}`.slice(0, 300);
}

/** openid-client errors → our codes, with the failed check named. */
function translate(e: unknown, name: string, id: string): AppError {
  if (e instanceof AppError) return e;
  const err = e as { name?: string; code?: string; error?: string; error_description?: string; message?: string };
  if (err instanceof client.ResponseBodyError || (err.code === 'OAUTH_RESPONSE_BODY_ERROR' && err.error)) {
    const desc = (err.error_description ?? '').slice(0, 200);
    if (err.error === 'invalid_client' || err.error === 'unauthorized_client') {
      return new AppError(
        'ERR_UPSTREAM_INVALID',
        `${name} refused this server's client credentials (${err.error}${desc ? `: ${desc}` : ''}); check the client id and secret`,
        { provider: id },
      );
    }
    return new AppError(
      'ERR_UPSTREAM_DENIED',
      `${name} refused the authorization code (${err.error}${desc ? `: ${desc}` : ''}); start the sign-in again`,
      { provider: id },
    );
  }
  if (err instanceof client.AuthorizationResponseError) {
    return new AppError('ERR_UPSTREAM_DENIED', `Sign-in with ${name} did not complete (${err.error})`, {
      provider: id,
    });
  }
  const inner = (e as { cause?: { message?: string; code?: string; status?: number } }).cause;
  const code = err.code ?? '';
  if (
    err.name === 'TimeoutError' ||
    err.name === 'AbortError' ||
    (e instanceof TypeError && !code) ||
    code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ||
    code === 'OAUTH_RESPONSE_IS_NOT_JSON'
  ) {
    return new AppError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `${name} could not be reached or answered unexpectedly (${describe(e)}); try again shortly`,
      { provider: id },
      { cause: e },
    );
  }
  const what = inner?.message ?? err.message ?? 'unknown failure';
  return new AppError('ERR_UPSTREAM_INVALID', `The ${name} sign-in answer failed validation: ${what}`, {
    provider: id,
  });
}

function algOf(jwt: string): string {
  try {
    return (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { alg?: string }).alg ?? 'none';
  } catch {
    return 'an unreadable header';
  }
}
