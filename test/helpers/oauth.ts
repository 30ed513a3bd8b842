/**
 * Authorization-server test kit: a fake upstream identity provider (in-test, implementing the real
 * UpstreamProvider seam), a headless browser (follows redirects, keeps cookies, submits the consent
 * form), PKCE, client registration and the whole authorize → consent → code dance.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Env } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';
import type { UpstreamIdentity, UpstreamProvider, UpstreamRegistry } from '../../src/oauth/upstream/types.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export interface FakeUpstream extends UpstreamProvider {
  /** Who signs in next (mutable by tests). */
  identity: Omit<UpstreamIdentity, 'emailVerified'> & { emailVerified: boolean };
  /** `ok` approves, `deny` answers error=access_denied, `fail` makes exchange throw. */
  mode: 'ok' | 'deny' | 'fail';
  /** What the authorization server sent (state, nonce, challenge), per sign-in. */
  requests: { state: string; nonce: string; codeChallenge: string; loginHint?: string }[];
}

/**
 * An upstream that "signs the user in" at once: its authorization URL is our own callback with a code.
 * `exchange` checks what a real one does: state, nonce, PKCE verifier, redirect URI, one-time code.
 */
export function fakeUpstream(id = 'oidc', email = 'qa.manager@acme.com'): FakeUpstream {
  const codes = new Map<string, { nonce: string; challenge: string; redirectUri: string }>();
  const self: FakeUpstream = {
    id,
    displayName: `Fake ${id}`,
    mode: 'ok',
    requests: [],
    identity: {
      subject: 'u-123',
      provider: 'oidc',
      issuer: 'https://idp.example.test',
      email,
      emailVerified: true,
      name: 'QA Manager',
      upstreamTokens: {
        accessToken: `upstream-at-${randomBytes(6).toString('hex')}`,
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      },
    },
    authorizationUrl(input) {
      self.requests.push({
        state: input.state,
        nonce: input.nonce,
        codeChallenge: input.codeChallenge,
        loginHint: input.loginHint,
      });
      const u = new URL(input.redirectUri);
      u.searchParams.set('state', input.state);
      if (self.mode === 'deny') {
        u.searchParams.set('error', 'access_denied');
        return Promise.resolve(u);
      }
      const code = randomBytes(12).toString('hex');
      codes.set(code, { nonce: input.nonce, challenge: input.codeChallenge, redirectUri: input.redirectUri });
      u.searchParams.set('code', code);
      return Promise.resolve(u);
    },
    async exchange(input) {
      await Promise.resolve(); // a real provider makes network calls here
      if (self.mode === 'fail') throw new AppError('ERR_OAUTH_UPSTREAM', 'The fake identity provider refused the code');
      assert.equal(input.callbackUrl.searchParams.get('state'), input.expectedState);
      const code = input.callbackUrl.searchParams.get('code') ?? '';
      const c = codes.get(code);
      if (!c) throw new AppError('ERR_OAUTH_UPSTREAM', 'unknown upstream code');
      codes.delete(code);
      assert.equal(c.nonce, input.expectedNonce);
      assert.equal(c.redirectUri, input.redirectUri);
      assert.equal(createHash('sha256').update(input.codeVerifier).digest('base64url'), c.challenge);
      return structuredClone(self.identity) as UpstreamIdentity;
    },
  };
  return self;
}

export function fakeRegistry(
  providers: UpstreamProvider[],
  byDomain: Record<string, UpstreamProvider> = {},
): UpstreamRegistry {
  return {
    list: () => providers,
    get: (id) =>
      Promise.resolve(providers.find((p) => p.id === id) ?? Object.values(byDomain).find((p) => p.id === id)),
    forEmail: (email) => Promise.resolve(byDomain[email.split('@')[1] ?? '']),
  };
}

export interface OAuthTestServer extends TestServer {
  upstream: FakeUpstream;
}

export async function startOAuthServer(
  env: Env = {},
  opts: TestServerOptions & { upstreams?: UpstreamRegistry } = {},
): Promise<OAuthTestServer> {
  const upstream = fakeUpstream();
  const server = await startTestServer(
    { OAUTH_SERVER_ENABLED: 'true', OAUTH_DCR_PER_HOUR: '0', OAUTH_RATE_LIMIT_PER_MINUTE: '0', ...env },
    { upstreams: fakeRegistry([upstream]), ...opts },
  );
  return Object.assign(server, { upstream });
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The fields tests read from token, registration and error answers. */
export interface OAuthBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  error: string;
  error_description: string;
  client_id: string;
  client_secret: string;
}

export const REDIRECT = 'http://127.0.0.1:9/callback';

export async function register(
  url: string,
  meta: Record<string, unknown> = {},
): Promise<{ status: number; body: OAuthBody }> {
  const res = await fetch(`${url}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Test Client',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      ...meta,
    }),
  });
  return { status: res.status, body: (await res.json()) as OAuthBody };
}

export async function publicClient(url: string, meta: Record<string, unknown> = {}): Promise<string> {
  const r = await register(url, meta);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.client_id;
}

/** A browser: cookies, manual redirects; stops at an HTML page or at a URL outside the server. */
export class Browser {
  cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: this.cookieHeader() },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  }

  /** Follow redirects within the server; returns the final page or the first outside URL. */
  async go(
    url: string,
    init: RequestInit = {},
  ): Promise<{ status: number; url: string; html?: string; location?: URL }> {
    let res = await this.request(url, init);
    let current = url;
    for (let i = 0; i < 10; i++) {
      if (res.status < 300 || res.status >= 400) return { status: res.status, url: current, html: await res.text() };
      const next = new URL(res.headers.get('location')!, current);
      await res.body?.cancel();
      if (next.origin !== new URL(this.base).origin || next.pathname === '/callback')
        return { status: res.status, url: current, location: next };
      current = next.href;
      res = await this.request(current);
    }
    throw new Error('too many redirects');
  }

  /** Submit the consent form on `html` with `decision`; `tamper` edits the form fields first. */
  async consent(html: string, decision: 'approve' | 'deny' = 'approve', tamper?: (f: Record<string, string>) => void) {
    const fields: Record<string, string> = {};
    for (const m of html.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!;
    assert.ok(fields.login && fields.csrf, 'consent form has login and csrf fields');
    assert.match(html, /<button type="submit" name="decision" value="approve">/);
    fields.decision = decision;
    tamper?.(fields);
    return this.go(`${this.base}/oauth/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

export function authorizeUrl(base: string, params: Record<string, string | undefined>): string {
  const u = new URL('/authorize', base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

export interface Authorized {
  code: string;
  verifier: string;
  state: string;
  location: URL;
}

/** authorize → (fake upstream) → consent approve → the code at the redirect URI. */
export async function authorizeCode(
  server: { url: string; resource: string },
  clientId: string,
  opts: { browser?: Browser; scope?: string; redirectUri?: string; extra?: Record<string, string> } = {},
): Promise<Authorized> {
  const browser = opts.browser ?? new Browser(server.url);
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const page = await browser.go(
    authorizeUrl(server.url, {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: opts.redirectUri ?? REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      scope: opts.scope,
      resource: server.resource,
      ...opts.extra,
    }),
  );
  assert.equal(
    page.status,
    200,
    `expected the consent page, got ${page.status} ${String(page.location ?? page.html?.slice(0, 400))}`,
  );
  const done = await browser.consent(page.html!, 'approve');
  assert.ok(done.location, `expected a redirect to the client, got ${done.status} ${done.html?.slice(0, 300)}`);
  const code = done.location.searchParams.get('code');
  assert.ok(code, `no code in ${done.location.href}`);
  assert.equal(done.location.searchParams.get('state'), state);
  return { code, verifier, state, location: done.location };
}

export async function tokenRequest(
  url: string,
  form: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: OAuthBody }> {
  const body = new URLSearchParams(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined));
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as OAuthBody };
}

export async function exchange(server: { url: string; resource: string }, clientId: string, a: Authorized) {
  return tokenRequest(server.url, {
    grant_type: 'authorization_code',
    code: a.code,
    code_verifier: a.verifier,
    redirect_uri: REDIRECT,
    client_id: clientId,
    resource: server.resource,
  });
}

/** The acme tenant's audit rows written by the authorization server (tool = oauth.*). */
export async function oauthAuditRows(
  dbUrl: string,
  tenant = 'acme',
): Promise<
  { tool: string; outcome: string; error_code: string | null; subject: string; details: Record<string, unknown> }[]
> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ schema_name: string }>('SELECT schema_name FROM control.tenants WHERE id = $1', [
      tenant,
    ]);
    const r = await c.query(
      `SELECT tool, outcome, error_code, subject, details FROM ${rows[0]!.schema_name}.audit_log WHERE tool LIKE 'oauth.%' ORDER BY id`,
    );
    return r.rows;
  } finally {
    await c.end();
  }
}

/** Run SQL against the test database (to age a code, inspect grants …). */
export async function sql<T extends object = Record<string, unknown>>(
  dbUrl: string,
  text: string,
  args: unknown[] = [],
): Promise<T[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    return (await c.query(text, args)).rows as T[];
  } finally {
    await c.end();
  }
}

/** An OAuthClientProvider for the MCP SDK client whose "browser" is a headless {@link Browser} that approves consent. */
export class SdkTestProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  code: string | undefined;
  refreshes = 0;
  constructor(
    private browser: Browser,
    readonly clientMetadataUrl?: string,
  ) {}
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: 'SDK e2e client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    if (this.saved) this.refreshes++;
    this.saved = t;
  }
  async redirectToAuthorization(url: URL) {
    const page = await this.browser.go(url.href);
    assert.equal(page.status, 200, page.html?.slice(0, 300));
    const done = await this.browser.consent(page.html!, 'approve');
    this.code = done.location?.searchParams.get('code') ?? undefined;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** A sign-in under way at a server whose upstreams are real (dev issuers), up to the upstream's login page. */
export interface StartedSignIn {
  browser: Browser;
  /** Where vault-mcp sent the browser: the upstream's authorization URL (its redirect_uri, state …). */
  upstreamUrl: URL;
  verifier: string;
  state: string;
}

/** `/authorize` with `login_hint` = `email`: home-realm discovery sends the browser to the user's IdP. */
export async function startSignIn(
  server: { url: string; resource: string },
  clientId: string,
  email: string,
): Promise<StartedSignIn> {
  const browser = new Browser(server.url);
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const res = await browser.request(
    authorizeUrl(server.url, {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      resource: server.resource,
      login_hint: email,
    }),
  );
  await res.body?.cancel();
  assert.equal(res.status, 302, 'sent to the upstream');
  return { browser, upstreamUrl: new URL(res.headers.get('location')!), verifier, state };
}

/** Back from the upstream at `callback` (in the same browser): consent approved, the code exchanged. */
export async function finishSignIn(
  server: { url: string; resource: string },
  clientId: string,
  started: StartedSignIn,
  callback: string,
): Promise<{ status: number; body: OAuthBody }> {
  const page = await started.browser.go(callback);
  assert.equal(page.status, 200, `expected the consent page, got ${page.status} ${page.html?.slice(0, 400)}`);
  const done = await started.browser.consent(page.html!, 'approve');
  const code = done.location?.searchParams.get('code');
  assert.ok(code, `no code: ${done.status} ${done.html?.slice(0, 300)}`);
  return exchange(server, clientId, {
    code,
    verifier: started.verifier,
    state: started.state,
    location: done.location!,
  });
}
