/**
 * A local stand-in for Google sign-in, for tests and `npm run dev`: a JWKS + ID-token minter (the dev
 * issuer with `iss` = https://accounts.google.com) and a tokeninfo endpoint that knows the `ya29.`
 * access tokens it issued. Point GOOGLE_JWKS_URI / GOOGLE_TOKENINFO_URL at it. For Google sign-in
 * (the OAuth leg), `oauth` is a second dev issuer whose issuer is its own URL (discovery needs that):
 * point GOOGLE_ISSUER at `oauth.issuer`; its users may carry `hd`. Never used in production wiring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose';
import { startDevIssuer, type DevIssuer, type DevUser, type MintOptions } from './issuer.js';

export interface GoogleAccessTokenInfo {
  sub: string;
  aud: string;
  azp?: string;
  email?: string;
  email_verified?: boolean;
  hd?: string;
  scope?: string;
  /** Seconds from now (default 3600; negative = expired). */
  expiresIn?: number;
}

export interface GoogleFake {
  jwksUri: string;
  tokeninfoUrl: string;
  issuer: DevIssuer;
  /** The sign-in leg: discovery, authorize (login page), token (ID tokens with nonce, email, hd). */
  oauth: DevIssuer;
  /** Sign a Google-style ID token (iss https://accounts.google.com, RS256). */
  mintIdToken(claims: JWTPayload, opts?: MintOptions): Promise<string>;
  /** Register and return a `ya29.` access token that tokeninfo will describe. */
  issueAccessToken(info: GoogleAccessTokenInfo): string;
  /** Number of tokeninfo calls served. */
  tokeninfoCalls(): number;
  /** Make tokeninfo answer 503. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * @example
 * const google = await startGoogleFake();
 * const env = { GOOGLE_CLIENT_IDS: 'client-1', GOOGLE_JWKS_URI: google.jwksUri, GOOGLE_TOKENINFO_URL: google.tokeninfoUrl };
 */
export async function startGoogleFake(
  opts: { users?: DevUser[]; clients?: Record<string, string> } = {},
): Promise<GoogleFake> {
  const issuer = await startDevIssuer({ issuerFor: () => 'https://accounts.google.com' });
  const oauth = await startDevIssuer({ users: opts.users, clients: opts.clients });
  const tokens = new Map<string, GoogleAccessTokenInfo & { exp: number }>();
  let calls = 0;
  let down = false;

  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/tokeninfo')
      return send(404, { error: 'not_found' });
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      calls++;
      if (down) return send(503, { error: 'backend_error' });
      const t = tokens.get(new URLSearchParams(raw).get('access_token') ?? '');
      // Google answers unknown and expired tokens alike: 400 invalid_token.
      if (!t || t.exp * 1000 <= Date.now())
        return send(400, { error: 'invalid_token', error_description: 'Invalid Value' });
      send(200, {
        azp: t.azp ?? t.aud,
        aud: t.aud,
        sub: t.sub,
        scope: t.scope ?? 'openid https://www.googleapis.com/auth/userinfo.email',
        exp: String(t.exp),
        expires_in: String(t.exp - Math.floor(Date.now() / 1000)),
        ...(t.email ? { email: t.email, email_verified: String(t.email_verified ?? true) } : {}),
        ...(t.hd ? { hd: t.hd } : {}),
        access_type: 'online',
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    jwksUri: issuer.jwksUri,
    tokeninfoUrl: `http://127.0.0.1:${port}/tokeninfo`,
    issuer,
    oauth,
    mintIdToken: (claims, opts) => issuer.mint({ email_verified: true, ...claims }, opts),
    issueAccessToken(info) {
      const token = `ya29.${randomBytes(24).toString('base64url')}`;
      tokens.set(token, { ...info, exp: Math.floor(Date.now() / 1000) + (info.expiresIn ?? 3600) });
      return token;
    },
    tokeninfoCalls: () => calls,
    setDown: (d) => void (down = d),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await issuer.close();
      await oauth.close();
    },
  };
}
