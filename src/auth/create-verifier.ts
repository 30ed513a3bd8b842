/**
 * The token dispatcher: picks exactly one verifier by the token's unverified `iss` (JWTs), never
 * "try every verifier". Unknown issuers are refused by name.
 *
 * @module
 */
import { decodeJwt } from 'jose';
import { AuthError } from '../errors/index.js';
import type { TokenVerifier, UserContext } from './types.js';

export interface IssuerVerifier {
  issuer: string;
  verify(token: string): Promise<UserContext>;
}

/**
 * Build the dispatching verifier.
 *
 * @example
 * const verifier = createTokenVerifier({ jwt: [oidc], maxTokenBytes: 16384 });
 */
export function createTokenVerifier(opts: { jwt: IssuerVerifier[]; maxTokenBytes: number }): TokenVerifier {
  const byIssuer = new Map(opts.jwt.map((v) => [v.issuer, v]));
  return {
    async verify(token: string) {
      if (token.length > opts.maxTokenBytes) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The token is larger than ${opts.maxTokenBytes} bytes`);
      }
      const parts = token.split('.');
      if (parts.length !== 3) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', parts.length === 5 ? 'Encrypted tokens (JWE) are not accepted' : 'The token is not a JWT and no opaque-token provider is enabled');
      }
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token is not a well-formed JWT');
      }
      if (typeof iss !== 'string') throw new AuthError('ERR_AUTH_INVALID_TOKEN', "The token has no issuer (iss) claim");
      const v = byIssuer.get(iss);
      if (!v) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The token issuer '${iss.slice(0, 200)}' is not trusted by this server`);
      return v.verify(token);
    },
  };
}
