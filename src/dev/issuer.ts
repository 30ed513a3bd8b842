/**
 * A local OIDC issuer for tests and `npm run dev`: discovery, JWKS (RS256 + ES256 keys) and token
 * minting. It also serves `POST /token` (client_credentials-style, dev only) so tools can fetch a token
 * over HTTP. Never used in production wiring.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type DevAlg = 'RS256' | 'ES256';

export interface MintOptions {
  alg?: DevAlg;
  /** Seconds from now; negative for an already-expired token. Default 3600. */
  expiresIn?: number;
  /** Extra or overriding protected header parameters (tests use this for attacks). */
  header?: Record<string, unknown>;
  /** Omit the kid header. */
  noKid?: boolean;
}

export interface DevIssuer {
  /** The issuer (`iss`): the base URL unless `issuerFor` chose another string. */
  issuer: string;
  /** Where the server listens (`http://127.0.0.1:<port>`). */
  baseUrl: string;
  jwksUri: string;
  /**
   * Sign a token. Defaults: `iss` = this issuer, `iat` = now, `exp` = now + 1h, `jti` random.
   *
   * @example
   * const token = await issuer.mint({ sub: 'u1', aud: resource, email: 'qa@acme.com', email_verified: true, scope: 'vault:read' });
   */
  mint(claims: JWTPayload, opts?: MintOptions): Promise<string>;
  /** Make JWKS and discovery answer 503 (fault tests). */
  setDown(down: boolean): void;
  /** Replace the signing keys (rotation tests); old tokens then carry an unknown kid. */
  rotateKeys(): Promise<void>;
  /** Number of JWKS fetches served (cache tests). */
  jwksFetches(): number;
  close(): Promise<void>;
}

interface KeyEntry {
  kid: string;
  alg: DevAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function makeKey(alg: DevAlg): Promise<KeyEntry> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * Start the issuer on 127.0.0.1.
 *
 * @example
 * const issuer = await startDevIssuer();
 * process.env.OIDC_ISSUER = issuer.issuer;
 */
export async function startDevIssuer(
  opts: {
    port?: number;
    host?: string;
    defaultAudience?: string;
    /** Choose the `iss` string from the base URL (e.g. Auth0's trailing slash, or Google's fixed issuer). */
    issuerFor?: (baseUrl: string) => string;
  } = {},
): Promise<DevIssuer> {
  let keys = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
  let down = false;
  let fetches = 0;
  let issuer = '';
  let baseUrl = '';

  const mint: DevIssuer['mint'] = async (claims, o = {}) => {
    const key = keys.find((k) => k.alg === (o.alg ?? 'RS256'))!;
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: key.alg, typ: 'JWT', ...(o.noKid ? {} : { kid: key.kid }), ...o.header };
    return new SignJWT({ iss: issuer, iat: now, exp: now + (o.expiresIn ?? 3600), jti: randomUUID(), ...claims })
      .setProtectedHeader(header as { alg: string })
      .sign(key.privateKey);
  };

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (down && req.method === 'GET') return send(503, { error: 'temporarily_unavailable' });
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return send(200, {
        issuer,
        jwks_uri: `${baseUrl}/jwks`,
        token_endpoint: `${baseUrl}/token`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        grant_types_supported: ['client_credentials'],
      });
    }
    // `/.well-known/jwks.json` is where Auth0 serves its keys.
    if (req.method === 'GET' && (path === '/jwks' || path === '/.well-known/jwks.json')) {
      fetches++;
      return send(200, { keys: keys.map((k) => k.publicJwk) });
    }
    if (req.method === 'POST' && path === '/token') {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const p = new URLSearchParams(raw);
        const email = p.get('email') ?? 'dev@example.com';
        void mint({
          sub: p.get('sub') ?? email,
          aud: p.get('resource') ?? opts.defaultAudience ?? '',
          email,
          email_verified: true,
          scope: p.get('scope') ?? 'vault:read',
          azp: p.get('client_id') ?? 'dev-client',
        }).then(
          (token) => send(200, { access_token: token, token_type: 'Bearer', expires_in: 3600 }),
          () => send(500, { error: 'server_error' }),
        );
      });
      return;
    }
    send(404, { error: 'not_found' });
  });

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  issuer = opts.issuerFor?.(baseUrl) ?? baseUrl;

  return {
    issuer,
    baseUrl,
    jwksUri: `${baseUrl}/jwks`,
    mint,
    setDown: (d) => void (down = d),
    rotateKeys: async () => void (keys = await Promise.all([makeKey('RS256'), makeKey('ES256')])),
    jwksFetches: () => fetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
