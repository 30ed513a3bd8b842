/**
 * A generic OIDC / OAuth 2.0 JWT access-token verifier built on jose: signature via the issuer's JWKS
 * (discovered or configured), an algorithm allow-list, `iss`, `aud` (the resource, RFC 8707), `exp`,
 * `nbf` and `iat` with a small clock skew, and required claims.
 *
 * @module
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AppError, AuthError } from '../errors/index.js';
import type { Provider, UserContext } from './types.js';

export interface OidcVerifierOptions {
  issuer: string;
  /** Accepted audiences; the token must name at least one. */
  audience: string | string[];
  jwksUri?: string;
  algorithms: string[];
  clockSkewSeconds: number;
  provider?: Provider;
  /** Maps verified claims to scopes; default reads `scope` (space list) and `scp` (array). */
  scopes?: (claims: JWTPayload) => string[];
  /** Custom fetch for discovery (tests, proxies). */
  fetch?: typeof fetch;
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
export function createOidcVerifier(opts: OidcVerifierOptions) {
  const doFetch = opts.fetch ?? fetch;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  async function getJwks() {
    if (jwks) return jwks;
    discovering ??= (async () => {
      const uri = opts.jwksUri ?? (await discoverJwksUri(opts.issuer, doFetch));
      jwks = createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 });
      return jwks;
    })().finally(() => {
      discovering = undefined;
    });
    return discovering;
  }

  async function verify(token: string): Promise<UserContext> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token is not a well-formed JWT');
    }
    for (const h of KEY_INJECTION_HEADERS) {
      if (h in header) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The token header carries '${h}', which is not accepted`);
    }
    if (!header.alg || !opts.algorithms.includes(header.alg)) {
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', `Token algorithm '${String(header.alg)}' is not allowed (allowed: ${opts.algorithms.join(', ')})`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await getJwks(), {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: opts.algorithms,
        clockTolerance: opts.clockSkewSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw describeJoseError(e, opts);
    }
    const scopes = (opts.scopes ?? defaultScopes)(payload);
    return {
      subject: `${opts.provider ?? 'oidc'}:${opts.issuer}|${payload.sub}`,
      provider: opts.provider ?? 'oidc',
      issuer: opts.issuer,
      email: typeof payload.email === 'string' ? payload.email : undefined,
      emailVerified: payload.email_verified === true || payload.email_verified === 'true',
      scopes,
      clientId: String(payload.azp ?? payload.client_id ?? ''),
      expiresAt: payload.exp!,
    };
  }

  return { issuer: opts.issuer, verify };
}

function defaultScopes(claims: JWTPayload): string[] {
  const out = new Set<string>();
  if (typeof claims.scope === 'string') claims.scope.split(' ').filter(Boolean).forEach((s) => out.add(s));
  if (Array.isArray(claims.scp)) claims.scp.filter((s): s is string => typeof s === 'string').forEach((s) => out.add(s));
  return [...out];
}

async function discoverJwksUri(issuer: string, doFetch: typeof fetch): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let body: { issuer?: string; jwks_uri?: string };
  try {
    const res = await doFetch(url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new AppError('ERR_UPSTREAM_UNAVAILABLE', `OIDC discovery failed for issuer ${issuer}: ${(e as Error).message}`);
  }
  // OIDC Discovery §4.3: the document's issuer must equal the one we were configured with.
  if (body.issuer !== issuer) {
    throw new AppError('ERR_UPSTREAM_UNAVAILABLE', `OIDC discovery for ${issuer} returned issuer ${String(body.issuer)}`);
  }
  if (!body.jwks_uri) throw new AppError('ERR_UPSTREAM_UNAVAILABLE', `OIDC discovery for ${issuer} has no jwks_uri`);
  return body.jwks_uri;
}

/** Turn a jose error into a precise, safe `error_description`. */
function describeJoseError(e: unknown, opts: OidcVerifierOptions): Error {
  if (e instanceof AppError) return e;
  const fail = (msg: string) => new AuthError('ERR_AUTH_INVALID_TOKEN', msg, {}, { cause: e });
  if (e instanceof joseErrors.JWTExpired) return fail('The token has expired (exp)');
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
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
        return fail(`The token claim '${e.claim}' is invalid: ${e.reason === 'missing' ? 'missing' : e.message}`);
    }
  }
  if (e instanceof joseErrors.JWKSNoMatchingKey) return fail("No key in the issuer's JWKS matches the token (kid/alg)");
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return fail("Several keys in the issuer's JWKS match the token; it must carry a kid");
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return fail('The token signature is invalid');
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return fail('The token algorithm is not allowed');
  if (e instanceof joseErrors.JOSENotSupported) return fail(`The token uses an unsupported feature: ${e.message}`);
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return fail(`The token is malformed: ${e.message}`);
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JOSEError) {
    return new AppError('ERR_UPSTREAM_UNAVAILABLE', `The identity provider's keys could not be fetched (${opts.issuer})`, {}, { cause: e });
  }
  return new AppError('ERR_UPSTREAM_UNAVAILABLE', `The identity provider's keys could not be fetched (${opts.issuer})`, {}, { cause: e });
}
