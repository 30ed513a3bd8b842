/**
 * The JWT verifier every JWT provider is built on (generic OIDC, Google ID tokens, Auth0, GitHub
 * Actions): signature via the issuer's JWKS (discovered or configured, cached by {@link createJwksCache}),
 * an algorithm allow-list, `iss`, `aud` (the resource, RFC 8707), `exp`, `nbf` and `iat` with a small
 * clock skew, and required claims. Header tricks (`jku`, `x5u`, `jwk`, `x5c`, `crit`, `alg: none`, HMAC)
 * are refused before any key is looked up.
 *
 * @module
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError, AuthError } from '../errors/index.js';
import { fetchUpstream } from '../shared/fetch-upstream.js';
import { createJwksCache, type JwksCache } from './jwks-cache.js';
import type { Provider, UserContext } from './types.js';

export interface OidcVerifierOptions {
  /** The canonical issuer (used for discovery and in messages). */
  issuer: string;
  /** Other `iss` spellings of the same issuer (Google: `accounts.google.com`). */
  issuerAliases?: string[];
  /** Accepted audiences; the token must name at least one. */
  audience: string | string[];
  jwksUri?: string;
  /** Keys held locally instead of a remote JWKS (our own authorization server's keys). */
  keys?: JWTVerifyGetKey;
  algorithms: string[];
  clockSkewSeconds: number;
  provider?: Provider;
  /** Claims that must be present (default `exp`, `sub`). */
  requiredClaims?: string[];
  /** Maps verified claims to scopes; default reads `scope` (space list) and `scp` (array). */
  scopes?: (claims: JWTPayload) => string[];
  /** Maps verified claims to the user; default: {@link defaultUser}. Throw an AuthError to refuse. */
  toUser?: (claims: JWTPayload, base: UserContext) => UserContext;
  jwksMaxAgeMs?: number;
  jwksCooldownMs?: number;
  /** Custom fetch for discovery and JWKS (tests, proxies). */
  fetch?: typeof fetch;
}

export interface JwtIssuerVerifier {
  /** Every `iss` value this verifier accepts (the dispatcher routes by these). */
  issuers: string[];
  verify(token: string): Promise<UserContext>;
  /** As `verify`, with the verified payload too (for checks the user does not carry). */
  verifyWithClaims(token: string): Promise<{ user: UserContext; claims: JWTPayload }>;
  jwks: JwksCache;
}

/** Header parameters that would let a token choose its own key: never honoured, always refused. */
const KEY_INJECTION_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/**
 * Create a verifier for one issuer.
 *
 * @example
 * const v = createOidcVerifier({ issuer, audience: config.resource, algorithms: ['RS256'], clockSkewSeconds: 60 });
 * const user = await v.verify(token);
 */
export function createOidcVerifier(opts: OidcVerifierOptions): JwtIssuerVerifier {
  const doFetch = opts.fetch ?? fetch;
  const provider = opts.provider ?? 'oidc';
  const issuers = [opts.issuer, ...(opts.issuerAliases ?? [])];
  const jwks: JwksCache = opts.keys
    ? { getKey: opts.keys, fetches: () => 0 }
    : createJwksCache({
        provider: `${provider} issuer ${opts.issuer}`,
        uri: opts.jwksUri ?? (() => discoverJwksUri(opts.issuer, doFetch)),
        maxAgeMs: opts.jwksMaxAgeMs,
        cooldownMs: opts.jwksCooldownMs,
        fetch: doFetch,
      });

  async function verifyWithClaims(token: string): Promise<{ user: UserContext; claims: JWTPayload }> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token is not a well-formed JWT');
    }
    for (const h of KEY_INJECTION_HEADERS) {
      if (h in header)
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The token header carries '${h}', which is not accepted`);
    }
    // We understand no JWS extensions; RFC 7515 §4.1.11 says such tokens must be rejected.
    if ('crit' in header)
      throw new AuthError(
        'ERR_AUTH_INVALID_TOKEN',
        "The token header carries 'crit' (critical extensions), which are not supported",
      );
    if (!header.alg || !opts.algorithms.includes(header.alg)) {
      throw new AuthError(
        'ERR_AUTH_INVALID_TOKEN',
        `Token algorithm '${String(header.alg)}' is not allowed (allowed: ${opts.algorithms.join(', ')})`,
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks.getKey, {
        issuer: issuers,
        audience: opts.audience,
        algorithms: opts.algorithms,
        clockTolerance: opts.clockSkewSeconds,
        requiredClaims: opts.requiredClaims ?? ['exp', 'sub'],
      }));
    } catch (e) {
      throw describeJoseError(e, opts, header.kid);
    }
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + opts.clockSkewSeconds) {
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token issue time (iat) is in the future');
    }
    const base = defaultUser(payload, provider, (opts.scopes ?? claimScopes)(payload));
    return { user: opts.toUser ? opts.toUser(payload, base) : base, claims: payload };
  }

  return { issuers, verify: async (token) => (await verifyWithClaims(token)).user, verifyWithClaims, jwks };
}

/**
 * The user a JWT describes without provider-specific rules: subject `provider:iss|sub`.
 *
 * @example
 * const user = defaultUser(claims, 'oidc', ['vault:read']);
 */
export function defaultUser(payload: JWTPayload, provider: Provider, scopes: string[]): UserContext {
  return {
    subject: `${provider}:${payload.iss}|${payload.sub}`,
    provider,
    issuer: String(payload.iss),
    email: typeof payload.email === 'string' ? payload.email : undefined,
    // Only the boolean true (OIDC Core §5.1): a string "true" is a malformed claim, not a verification.
    emailVerified: payload.email_verified === true,
    scopes,
    clientId: [payload.azp, payload.client_id].find((v): v is string => typeof v === 'string') ?? '',
    expiresAt: payload.exp!,
  };
}

/**
 * Scopes from the standard claims: `scope` (space-separated, RFC 9068) and `scp` (array or string,
 * Okta / Azure AD).
 *
 * @example
 * claimScopes({ scope: 'vault:read openid' }) // ['vault:read', 'openid']
 */
export function claimScopes(claims: JWTPayload): string[] {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string')
      v.split(' ')
        .filter(Boolean)
        .forEach((s) => out.add(s));
    else if (Array.isArray(v)) v.filter((s): s is string => typeof s === 'string').forEach((s) => out.add(s));
  };
  add(claims.scope);
  add(claims.scp);
  return [...out];
}

async function discoverJwksUri(issuer: string, doFetch: typeof fetch): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let body: { issuer?: string; jwks_uri?: string };
  try {
    const res = await fetchUpstream(url, {
      upstream: 'the discovery endpoint',
      timeoutMs: 5000,
      redirect: 'follow',
      fetch: doFetch,
      headers: { accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new AppError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `OIDC discovery failed for issuer ${issuer}: ${(e as Error).message}`,
    );
  }
  // OIDC Discovery §4.3: the document's issuer must equal the one we were configured with.
  if (body.issuer !== issuer) {
    throw new AppError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `OIDC discovery for ${issuer} returned issuer ${String(body.issuer)}`,
    );
  }
  if (!body.jwks_uri) throw new AppError('ERR_UPSTREAM_UNAVAILABLE', `OIDC discovery for ${issuer} has no jwks_uri`);
  return body.jwks_uri;
}

/** Turn a jose error into a precise, safe `error_description`. */
function describeJoseError(e: unknown, opts: OidcVerifierOptions, kid: string | undefined): Error {
  if (e instanceof AppError) return e;
  const fail = (msg: string) => new AuthError('ERR_AUTH_INVALID_TOKEN', msg, {}, { cause: e });
  if (e instanceof joseErrors.JWTExpired) return fail('The token has expired (exp)');
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.reason === 'missing')
      return fail(
        e.claim === 'aud'
          ? 'The token has no audience (aud) claim'
          : `The token claim '${e.claim}' is invalid: missing`,
      );
    switch (e.claim) {
      case 'aud':
        return fail(`The token audience (aud) is not this resource; expected ${[opts.audience].flat().join(' or ')}`);
      case 'iss':
        return fail(`The token issuer (iss) is not ${opts.issuer}`);
      case 'nbf':
        return fail('The token is not valid yet (nbf)');
      case 'iat':
        return fail('The token issue time (iat) is in the future');
      default:
        return fail(`The token claim '${e.claim}' is invalid: ${e.message}`);
    }
  }
  if (e instanceof joseErrors.JWKSNoMatchingKey) {
    return fail(
      kid
        ? `No key in the issuer's JWKS matches the token's kid '${kid.slice(0, 64)}'`
        : "No key in the issuer's JWKS matches the token (no kid)",
    );
  }
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys)
    return fail("Several keys in the issuer's JWKS match the token; it must carry a kid");
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return fail('The token signature is invalid');
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return fail('The token algorithm is not allowed');
  if (e instanceof joseErrors.JOSENotSupported) return fail(`The token uses an unsupported feature: ${e.message}`);
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid)
    return fail(`The token is malformed: ${e.message}`);
  return new AppError(
    'ERR_UPSTREAM_UNAVAILABLE',
    `The identity provider's keys could not be used (${opts.issuer})`,
    {},
    { cause: e },
  );
}
