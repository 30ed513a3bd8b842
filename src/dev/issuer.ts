/**
 * A local OIDC issuer for tests and `npm run dev`: discovery, JWKS (RS256 + ES256 keys) and token
 * minting, and a real upstream OpenID provider for the authorization server's sign-in: an
 * authorization endpoint (authorization code + PKCE S256, state, nonce, RFC 9207 `iss`) whose login
 * page lists the demo users as one link each (a person or a headless client picks one with one
 * click), and `POST /token` for `authorization_code` (client_secret_basic / client_secret_post),
 * `refresh_token` (rotating refresh tokens; `accessTokenTtlSeconds` makes access tokens short-lived
 * for renewal tests), the RFC 8693 token exchange (what `oauth`-mode Vault tenants call) and, for anything else,
 * client_credentials-style minting (dev only) so tools can fetch a token over HTTP. Signing keys can
 * persist in a file (mode 0600) so tokens survive a restart. Never used in production wiring.
 *
 * @module
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
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

/** A user the login page offers. `email_verified` is sent as given (tests use false and "true"). */
export interface DevUser {
  sub: string;
  email: string;
  email_verified?: unknown;
  name?: string;
  /** Extra ID-token claims (e.g. Google's `hd`). */
  claims?: JWTPayload;
  /** Leave email and email_verified out of the ID token (then only /userinfo has them). */
  emailInUserinfoOnly?: boolean;
}

/** Tampering applied to the ID tokens the token endpoint issues next (attack tests). */
export interface IdTokenOverride {
  /** Merged over the normal claims (`nonce`, `aud`, `iss` …); `undefined` values remove a claim. */
  claims?: Record<string, unknown>;
  /** Seconds from now (negative = already expired). */
  expiresIn?: number;
  /** Sign with a key that is not in the JWKS. */
  foreignKey?: boolean;
  /** Protected header parameters merged last (e.g. a known `kid` on a foreign signature). */
  header?: Record<string, unknown>;
  alg?: DevAlg;
}

export interface DevIssuer {
  /** The issuer (`iss`): the base URL unless `issuerFor` chose another string. */
  issuer: string;
  /** Where the server listens (`http://127.0.0.1:<port>`). */
  baseUrl: string;
  jwksUri: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** The users the login page lists. */
  users(): readonly DevUser[];
  addUser(user: DevUser): void;
  /** Tamper with every ID token issued from now on (`undefined` stops). */
  setIdTokenOverride(o: IdTokenOverride | undefined): void;
  /** Claims merged over every /userinfo answer from now on (`undefined` stops). */
  setUserinfoOverride(claims: Record<string, unknown> | undefined): void;
  /** Authorization codes redeemed so far. */
  codesRedeemed(): number;
  /** POST /token requests received so far, of any grant type (granted or not). */
  tokenRequests(): number;
  /** refresh_token grant requests received so far (granted or not). */
  refreshes(): number;
  /** Forget every refresh token issued so far (the user's session ended at the IdP): invalid_grant. */
  revokeRefreshTokens(): void;
  /** Issue refresh tokens from now on (default true). */
  setIssueRefreshTokens(on: boolean): void;
  /** Answer refresh_token grants this much later (concurrency tests). */
  setRefreshDelay(ms: number): void;
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
  /** Number of discovery documents served (cache tests). */
  discoveryFetches(): number;
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

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

/** Keys from `file` when it exists, else new ones written there (0600): tokens survive a restart. */
async function loadOrCreateKeys(file: string | undefined): Promise<KeyEntry[]> {
  if (file) {
    const raw = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (raw !== undefined) {
      await chmod(file, 0o600);
      const stored = (JSON.parse(raw) as { keys: (JWK & { kid: string; alg: DevAlg })[] }).keys;
      return Promise.all(
        stored.map(async (jwk) => ({
          kid: jwk.kid,
          alg: jwk.alg,
          privateKey: (await importJWK(jwk, jwk.alg, { extractable: true })) as CryptoKey,
          publicJwk: {
            ...Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.includes(k))),
            use: 'sig',
          },
        })),
      );
    }
  }
  const keys = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
  await saveKeys(file, keys);
  return keys;
}

async function saveKeys(file: string | undefined, keys: KeyEntry[]): Promise<void> {
  if (!file) return;
  await mkdir(path.dirname(file), { recursive: true });
  const stored = await Promise.all(
    keys.map(async (k) => ({ ...(await exportJWK(k.privateKey)), kid: k.kid, alg: k.alg })),
  );
  await writeFile(file, JSON.stringify({ keys: stored }), { mode: 0o600 });
  await chmod(file, 0o600);
}

const html = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One pending sign-in (authorize → login page → pick) or one issued code. */
interface PendingAuth {
  clientId: string;
  redirectUri: string;
  state?: string;
  nonce?: string;
  scope: string;
  codeChallenge: string;
  expires: number;
  user?: DevUser;
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
    /**
     * Confidential clients (client id → secret) allowed to exchange tokens and to redeem authorization
     * codes; none configured = any client, secret unchecked.
     */
    clients?: Record<string, string>;
    /** Users the login page lists (default: dev@example.com). */
    users?: DevUser[];
    /** Persist the signing keys here (JSON, mode 0600); unset = new in-memory keys. */
    keyFile?: string;
    /** Lifetime of the access tokens the token endpoint issues (default 3600). */
    accessTokenTtlSeconds?: number;
    /** false: no RFC 9207 `iss` in authorization responses, nor in the metadata (as many IdPs). */
    issParameter?: boolean;
  } = {},
): Promise<DevIssuer> {
  let keys = await loadOrCreateKeys(opts.keyFile);
  let foreign: KeyEntry | undefined;
  const users: DevUser[] = [...(opts.users ?? [{ sub: 'dev', email: 'dev@example.com', email_verified: true }])];
  const pending = new Map<string, PendingAuth>();
  const codes = new Map<string, PendingAuth>();
  let override: IdTokenOverride | undefined;
  let userinfoOverride: Record<string, unknown> | undefined;
  let redeemed = 0;
  let refreshCount = 0;
  let tokenRequestCount = 0;
  // RFC 9207: the `iss` authorization response parameter, sent and advertised unless turned off.
  const issParameter = opts.issParameter ?? true;
  let issueRefreshTokens = true;
  let refreshDelayMs = 0;
  const accessTtl = opts.accessTokenTtlSeconds ?? 3600;
  /** Live refresh tokens (rotated on use). */
  const refreshTokens = new Map<string, { clientId: string; user: DevUser; scope: string }>();
  let discoveries = 0;
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
    const { clientId, ok } = clientAuth(p, authorization);
    if (!ok) return [401, { error: 'invalid_client', error_description: 'client authentication failed' }];
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

  /** client_secret_basic or client_secret_post; checked only when clients are configured. */
  function clientAuth(p: URLSearchParams, authorization: string | undefined): { clientId: string; ok: boolean } {
    let clientId = p.get('client_id') ?? '';
    let secret = p.get('client_secret') ?? undefined;
    const basic = /^Basic (.+)$/i.exec(authorization ?? '')?.[1];
    if (basic) {
      const [id, sec] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      clientId = decodeURIComponent(id ?? '');
      secret = decodeURIComponent(sec ?? '');
    }
    const ok = !opts.clients || (Object.hasOwn(opts.clients, clientId) && opts.clients[clientId] === secret);
    return { clientId, ok };
  }

  /** Authorization code grant: single-use code, same client and redirect_uri, PKCE S256 verifier. */
  async function redeemCode(
    p: URLSearchParams,
    authorization: string | undefined,
  ): Promise<[number, Record<string, unknown>]> {
    const { clientId, ok } = clientAuth(p, authorization);
    if (!ok) return [401, { error: 'invalid_client', error_description: 'client authentication failed' }];
    const code = p.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code);
    if (!grant || grant.expires < Date.now() || !grant.user)
      return [400, { error: 'invalid_grant', error_description: 'unknown, used or expired code' }];
    if (grant.clientId !== clientId)
      return [400, { error: 'invalid_grant', error_description: 'the code was issued to another client' }];
    if (grant.redirectUri !== p.get('redirect_uri'))
      return [
        400,
        { error: 'invalid_grant', error_description: 'redirect_uri does not match the authorization request' },
      ];
    const verifier = p.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== grant.codeChallenge)
      return [400, { error: 'invalid_grant', error_description: 'PKCE verification failed (code_verifier)' }];
    redeemed++;
    return [200, await issueTokens(grant.user, clientId, grant.scope, grant.nonce)];
  }

  /** Refresh token grant: same client, one use (rotated), new access and ID tokens for the same user. */
  async function refresh(
    p: URLSearchParams,
    authorization: string | undefined,
  ): Promise<[number, Record<string, unknown>]> {
    refreshCount++;
    if (refreshDelayMs) await new Promise((r) => setTimeout(r, refreshDelayMs));
    const { clientId, ok } = clientAuth(p, authorization);
    if (!ok) return [401, { error: 'invalid_client', error_description: 'client authentication failed' }];
    const presented = p.get('refresh_token') ?? '';
    const grant = refreshTokens.get(presented);
    refreshTokens.delete(presented);
    if (!grant) return [400, { error: 'invalid_grant', error_description: 'unknown, used or revoked refresh token' }];
    if (grant.clientId !== clientId)
      return [400, { error: 'invalid_grant', error_description: 'the refresh token was issued to another client' }];
    return [200, await issueTokens(grant.user, clientId, grant.scope)];
  }

  /** The token response of a sign-in or a refresh (ID token tampered with by `setIdTokenOverride`). */
  async function issueTokens(
    u: DevUser,
    clientId: string,
    scope: string,
    nonce?: string,
  ): Promise<Record<string, unknown>> {
    const profile = {
      sub: u.sub,
      email: u.email,
      email_verified: u.email_verified,
      ...(u.name ? { name: u.name } : {}),
      ...u.claims,
    };
    const o = override;
    const { email: _e, email_verified: _v, ...withoutEmail } = profile;
    let idClaims: Record<string, unknown> = {
      ...(u.emailInUserinfoOnly ? withoutEmail : profile),
      aud: clientId,
      azp: clientId,
      auth_time: Math.floor(Date.now() / 1000),
      ...(nonce ? { nonce } : {}),
      ...o?.claims,
    };
    idClaims = Object.fromEntries(Object.entries(idClaims).filter(([, v]) => v !== undefined));
    if (o?.foreignKey) foreign ??= await makeKey(o.alg ?? 'RS256');
    const idToken = await mint(idClaims, {
      expiresIn: o?.expiresIn,
      alg: o?.alg,
      header: { ...(o?.foreignKey ? { kid: foreign!.kid } : {}), ...o?.header },
      signWith: o?.foreignKey ? foreign : undefined,
    });
    const accessToken = await mint(
      { ...profile, aud: opts.defaultAudience ?? clientId, scope, azp: clientId },
      { expiresIn: accessTtl },
    );
    let refreshToken: string | undefined;
    if (issueRefreshTokens) {
      refreshToken = randomBytes(24).toString('base64url');
      refreshTokens.set(refreshToken, { clientId, user: u, scope });
    }
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: accessTtl,
      id_token: idToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope,
    };
  }

  /** GET /authorize: validate the request, then show the login page (one link per user). */
  function authorize(q: URLSearchParams): { status: number; html?: string; redirect?: string; json?: unknown } {
    const clientId = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!clientId || (opts.clients && !Object.hasOwn(opts.clients, clientId)))
      return { status: 400, json: { error: 'invalid_client', error_description: `unknown client_id "${clientId}"` } };
    if (!/^https?:\/\//.test(redirectUri))
      return { status: 400, json: { error: 'invalid_request', error_description: 'redirect_uri is required' } };
    const back = (params: Record<string, string>) => {
      const u = new URL(redirectUri);
      for (const [k, v] of Object.entries({
        ...params,
        ...(q.get('state') ? { state: q.get('state')! } : {}),
        ...(issParameter ? { iss: issuer } : {}),
      }))
        u.searchParams.set(k, v);
      return { status: 302, redirect: u.toString() };
    };
    if (q.get('response_type') !== 'code')
      return back({ error: 'unsupported_response_type', error_description: 'response_type must be code' });
    if (!q.get('code_challenge') || q.get('code_challenge_method') !== 'S256')
      return back({ error: 'invalid_request', error_description: 'PKCE with code_challenge_method=S256 is required' });
    const tx = randomBytes(16).toString('base64url');
    pending.set(tx, {
      clientId,
      redirectUri,
      state: q.get('state') ?? undefined,
      nonce: q.get('nonce') ?? undefined,
      scope: q.get('scope') ?? 'openid',
      codeChallenge: q.get('code_challenge')!,
      expires: Date.now() + 10 * 60_000,
    });
    const hint = q.get('login_hint')?.toLowerCase();
    const items = users
      .map((u) => {
        const href = `/authorize/select?tx=${tx}&user=${encodeURIComponent(u.sub)}`;
        const mark = hint === u.email.toLowerCase() ? ' <strong>(suggested)</strong>' : '';
        return `<li><a class="user" data-email="${html(u.email)}" href="${html(href)}">Sign in as ${html(u.name ?? u.email)} &lt;${html(u.email)}&gt;</a>${mark}</li>`;
      })
      .join('\n');
    return {
      status: 200,
      html: `<!doctype html><html><head><meta charset="utf-8"><title>Dev sign-in</title></head><body>
<h1>Dev identity provider</h1><p>Client <code>${html(clientId)}</code> asks you to sign in. Pick a user:</p>
<ul>
${items}
</ul>
<p><a class="deny" href="/authorize/select?tx=${tx}&amp;deny=1">Cancel (access_denied)</a></p>
</body></html>`,
    };
  }

  /** GET /authorize/select: the user picked (or cancelled); back to the client with a code. */
  function select(q: URLSearchParams): { status: number; redirect?: string; json?: unknown } {
    const tx = q.get('tx') ?? '';
    const p = pending.get(tx);
    pending.delete(tx);
    if (!p || p.expires < Date.now())
      return { status: 400, json: { error: 'invalid_request', error_description: 'unknown or expired sign-in' } };
    const u = new URL(p.redirectUri);
    if (p.state) u.searchParams.set('state', p.state);
    if (issParameter) u.searchParams.set('iss', issuer);
    const user = users.find((x) => x.sub === q.get('user'));
    if (q.get('deny') || !user) {
      u.searchParams.set('error', 'access_denied');
      u.searchParams.set('error_description', 'The user cancelled the sign-in');
    } else {
      const code = randomBytes(24).toString('base64url');
      codes.set(code, { ...p, user, expires: Date.now() + 60_000 });
      u.searchParams.set('code', code);
    }
    return { status: 302, redirect: u.toString() };
  }

  const mint = async (claims: JWTPayload, o: MintOptions & { signWith?: KeyEntry } = {}): Promise<string> => {
    const key = o.signWith ?? keys.find((k) => k.alg === (o.alg ?? 'RS256'))!;
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: key.alg, typ: 'JWT', ...(o.noKid ? {} : { kid: key.kid }), ...o.header };
    return new SignJWT({ iss: issuer, iat: now, exp: now + (o.expiresIn ?? 3600), jti: randomUUID(), ...claims })
      .setProtectedHeader(header)
      .sign(key.privateKey);
  };

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', baseUrl);
    const path = url.pathname;
    const answer = (r: { status: number; html?: string; redirect?: string; json?: unknown }) => {
      if (r.redirect) {
        res.writeHead(302, { location: r.redirect, 'cache-control': 'no-store' });
        return res.end();
      }
      if (r.html !== undefined) {
        res.writeHead(r.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(r.html);
      }
      send(r.status, r.json);
    };
    if (down && req.method === 'GET') return send(503, { error: 'temporarily_unavailable' });
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      discoveries++;
      return send(200, {
        issuer,
        authorization_endpoint: `${baseUrl}/authorize`,
        userinfo_endpoint: `${baseUrl}/userinfo`,
        jwks_uri: `${baseUrl}/jwks`,
        token_endpoint: `${baseUrl}/token`,
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: ['openid', 'email', 'profile', 'offline_access'],
        claims_supported: ['sub', 'email', 'email_verified', 'name', 'nonce'],
        ...(issParameter ? { authorization_response_iss_parameter_supported: true } : {}),
      });
    }
    if (req.method === 'GET' && path === '/authorize') return answer(authorize(url.searchParams));
    if (req.method === 'GET' && path === '/userinfo') {
      const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      void jwtVerify(bearer, createLocalJWKSet({ keys: keys.map((k) => k.publicJwk) }), { issuer }).then(
        ({ payload }) => {
          const u = users.find((x) => x.sub === payload.sub);
          if (!u) return send(401, { error: 'invalid_token' });
          send(200, {
            sub: u.sub,
            email: u.email,
            email_verified: u.email_verified,
            ...(u.name ? { name: u.name } : {}),
            ...(userinfoOverride ?? {}),
          });
        },
        () => send(401, { error: 'invalid_token' }),
      );
      return;
    }
    if (req.method === 'GET' && path === '/authorize/select') return answer(select(url.searchParams));
    // `/.well-known/jwks.json` is where Auth0 serves its keys.
    if (req.method === 'GET' && (path === '/jwks' || path === '/.well-known/jwks.json')) {
      fetches++;
      return send(200, { keys: keys.map((k) => k.publicJwk) });
    }
    if (req.method === 'POST' && path === '/token') {
      tokenRequestCount++;
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const p = new URLSearchParams(raw);
        if (p.get('grant_type') === 'authorization_code') {
          void redeemCode(p, req.headers.authorization).then(
            ([status, body]) => send(status, body),
            () => send(500, { error: 'server_error' }),
          );
          return;
        }
        if (p.get('grant_type') === 'refresh_token') {
          void refresh(p, req.headers.authorization).then(
            ([status, body]) => send(status, body),
            () => send(500, { error: 'server_error' }),
          );
          return;
        }
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
    authorizationEndpoint: `${baseUrl}/authorize`,
    tokenEndpoint: `${baseUrl}/token`,
    users: () => users,
    addUser: (u) => void users.push(u),
    setIdTokenOverride: (o) => void (override = o),
    setUserinfoOverride: (c) => void (userinfoOverride = c),
    codesRedeemed: () => redeemed,
    tokenRequests: () => tokenRequestCount,
    refreshes: () => refreshCount,
    revokeRefreshTokens: () => refreshTokens.clear(),
    setIssueRefreshTokens: (on) => void (issueRefreshTokens = on),
    setRefreshDelay: (ms) => void (refreshDelayMs = ms),
    mint: (claims, o) => mint(claims, o),
    setDown: (d) => void (down = d),
    rotateKeys: async () => {
      keys = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
      await saveKeys(opts.keyFile, keys);
    },
    jwksFetches: () => fetches,
    discoveryFetches: () => discoveries,
    exchanges: () => exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
