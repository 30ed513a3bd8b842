/**
 * The token dispatcher: picks exactly one verifier per token, never "try every verifier".
 * - Opaque tokens are routed by their well-known prefix (`vmcp_` API keys, `gho_`/`ghu_`/`ghp_`/
 *   `github_pat_` GitHub user tokens, `ya29.` Google access tokens); a recognised prefix whose provider
 *   is not enabled is refused by name.
 * - JWTs are routed by their unverified `iss`; unknown issuers are refused by name. The chosen
 *   verifier then checks everything, `iss` included.
 *
 * @module
 */
import { decodeJwt } from 'jose';
import { AuthError } from '../errors/index.js';
import { cachedIntrospection, type OpaqueCacheOptions } from './opaque-cache.js';
import type { Provider, TokenVerifier, UserContext } from './types.js';

export interface IssuerVerifier {
  /** Every `iss` value this verifier accepts. */
  issuers: readonly string[];
  verify(token: string): Promise<UserContext>;
}

export interface OpaqueVerifier {
  provider: Extract<Provider, 'api-key' | 'github' | 'google'>;
  verify(token: string): Promise<UserContext>;
}

/** Prefixes that identify an opaque token's provider, and how we name it in errors. */
const OPAQUE_PREFIXES: { prefix: string; provider: OpaqueVerifier['provider']; what: string; enable: string }[] = [
  { prefix: 'vmcp_', provider: 'api-key', what: 'API keys', enable: 'create one with `npm run api-keys -- create`' },
  { prefix: 'gho_', provider: 'github', what: 'GitHub tokens', enable: 'set GITHUB_ENABLED=true' },
  { prefix: 'ghu_', provider: 'github', what: 'GitHub tokens', enable: 'set GITHUB_ENABLED=true' },
  { prefix: 'ghp_', provider: 'github', what: 'GitHub tokens', enable: 'set GITHUB_ENABLED=true' },
  { prefix: 'github_pat_', provider: 'github', what: 'GitHub tokens', enable: 'set GITHUB_ENABLED=true' },
  { prefix: 'ya29.', provider: 'google', what: 'Google access tokens', enable: 'set GOOGLE_CLIENT_IDS' },
];

/**
 * Build the dispatching verifier.
 *
 * @example
 * const verifier = createTokenVerifier({ jwt: [oidc, google], opaque: [apiKeys], maxTokenBytes: 16384 });
 */
export function createTokenVerifier(opts: {
  jwt: IssuerVerifier[];
  opaque?: OpaqueVerifier[];
  maxTokenBytes: number;
  /**
   * Remember verified JWTs (JWT_CACHE_SECONDS): a signature check costs ~0.2 ms of CPU per request,
   * the largest cost of the stack. The same token bytes verified by the same verifiers give the same
   * answer until `exp`, so a short TTL changes nothing but when a JWKS key removal takes effect (at
   * most `ttlMs` later). Our own access tokens are dropped when their grant ends (`revocable`).
   * Absent or `ttlMs: 0`: every JWT is verified in full.
   */
  jwtCache?: OpaqueCacheOptions;
}): TokenVerifier {
  const byIssuer = new Map(opts.jwt.flatMap((v) => v.issuers.map((iss) => [iss, v] as const)));
  const byProvider = new Map((opts.opaque ?? []).map((v) => [v.provider, v]));
  const verifyJwt = opts.jwtCache?.ttlMs ? cachedIntrospection((t) => dispatchJwt(t), opts.jwtCache) : dispatchJwt;

  async function dispatchJwt(token: string): Promise<UserContext> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token is not a well-formed JWT');
    }
    if (typeof iss !== 'string') throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token has no issuer (iss) claim');
    const v = byIssuer.get(iss);
    if (!v)
      throw new AuthError(
        'ERR_AUTH_INVALID_TOKEN',
        `The token issuer '${iss.slice(0, 200)}' is not trusted by this server`,
      );
    return v.verify(token);
  }

  return {
    async verify(token: string) {
      if (token.length > opts.maxTokenBytes) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The token is larger than ${opts.maxTokenBytes} bytes`);
      }
      const known = OPAQUE_PREFIXES.find((p) => token.startsWith(p.prefix));
      if (known) {
        const v = byProvider.get(known.provider);
        if (!v)
          throw new AuthError(
            'ERR_AUTH_INVALID_TOKEN',
            `${known.what} are not accepted by this server (${known.enable})`,
          );
        return v.verify(token);
      }
      const parts = token.split('.');
      if (parts.length !== 3) {
        throw new AuthError(
          'ERR_AUTH_INVALID_TOKEN',
          parts.length === 5
            ? 'Encrypted tokens (JWE) are not accepted'
            : 'The token is not a JWT and has no recognised opaque-token prefix (vmcp_, gho_, ghu_, ghp_, github_pat_, ya29.)',
        );
      }
      return verifyJwt(token);
    },
  };
}
