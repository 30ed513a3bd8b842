/**
 * A local OIDC issuer for tests and `npm run dev`: discovery, JWKS (RS256 + ES256 keys) and token
 * minting. It also serves `POST /token`: client_credentials-style minting (dev only) so tools can fetch
 * a token over HTTP, and an RFC 8693 token exchange (what `oauth`-mode Vault tenants call: a user's
 * token in, a token for another audience out). Never used in production wiring.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** One RFC 8693 exchange the issuer granted (tests assert what went in and what came out). */
export interface DevExchange {
  clientId: string;
  subjectToken: string;
  audience: string;
  issuedToken: string;
}

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
  /** Token exchanges granted so far. */
  exchanges(): readonly DevExchange[];
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
    /** Confidential clients allowed to exchange tokens (client id → secret); none configured = any client. */
    clients?: Record<string, string>;
  } = {},
): Promise<DevIssuer> {
  let keys = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
  let down = false;
  let fetches = 0;
  let issuer = '';
  let baseUrl = '';
  const exchanges: DevExchange[] = [];

  /** RFC 8693: verify the client and the subject token (one of ours), mint the same user for `audience`. */
  async function exchange(
    p: URLSearchParams,
    authorization: string | undefined,
  ): Promise<[number, Record<string, unknown>]> {
    let clientId = p.get('client_id') ?? '';
    let secret = p.get('client_secret') ?? undefined;
    const basic = /^Basic (.+)$/i.exec(authorization ?? '')?.[1];
    if (basic) {
      const [id, sec] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      clientId = decodeURIComponent(id ?? '');
      secret = decodeURIComponent(sec ?? '');
    }
    if (opts.clients && (!Object.hasOwn(opts.clients, clientId) || opts.clients[clientId] !== secret)) {
      return [401, { error: 'invalid_client', error_description: 'client authentication failed' }];
    }
    const subjectToken = p.get('subject_token');
    if (!subjectToken || p.get('subject_token_type') !== ACCESS_TOKEN_TYPE) {
      return [
        400,
        {
          error: 'invalid_request',
          error_description: `subject_token and subject_token_type=${ACCESS_TOKEN_TYPE} are required`,
        },
      ];
    }
    const audience = p.get('audience') ?? opts.defaultAudience;
    if (!audience) return [400, { error: 'invalid_target', error_description: 'audience is required' }];
    let subject: JWTPayload;
    try {
      ({ payload: subject } = await jwtVerify(subjectToken, createLocalJWKSet({ keys: keys.map((k) => k.publicJwk) }), {
        issuer,
      }));
    } catch (e) {
      return [400, { error: 'invalid_grant', error_description: `subject_token is invalid: ${(e as Error).message}` }];
    }
    const issuedToken = await mint(
      {
        sub: subject.sub,
        email: subject.email,
        email_verified: subject.email_verified,
        aud: audience,
        ...(p.get('scope') ? { scope: p.get('scope') } : {}),
        azp: clientId || undefined,
        act: { sub: clientId || 'anonymous-client' },
      },
      { expiresIn: 300 },
    );
    exchanges.push({ clientId, subjectToken, audience, issuedToken });
    return [
      200,
      { access_token: issuedToken, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: 300 },
    ];
  }

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
        grant_types_supported: ['client_credentials', TOKEN_EXCHANGE],
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
        if (p.get('grant_type') === TOKEN_EXCHANGE) {
          void exchange(p, req.headers.authorization).then(
            ([status, body]) => send(status, body),
            () => send(500, { error: 'server_error' }),
          );
          return;
        }
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
    exchanges: () => exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
