/**
 * Findings of the security review of the authorization server, one regression test each: each failed
 * before its fix. Headless browser, real server, fake upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postToolCall } from '../helpers/mcp.js';
import {
  authorizeCode,
  authorizeUrl,
  Browser,
  fakeRegistry,
  fakeUpstream,
  pkce,
  publicClient,
  REDIRECT,
  register,
  sql,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';

const EVIL = 'https://evil.example/x';

describe('security review: no open redirect through open registration (RFC 9700 §4.11.2)', () => {
  let s: OAuthTestServer;
  let evilClient: string;
  before(async () => {
    s = await startOAuthServer();
    evilClient = await publicClient(s.url, { redirect_uris: [EVIL], token_endpoint_auth_method: 'none' });
  });
  after(async () => {
    await s.close();
  });

  /** A page (no Location) whose "Return to the application" link carries the OAuth error. */
  async function expectClickThrough(res: Response, error: string, state?: string) {
    assert.equal(res.headers.get('location'), null, 'not redirected automatically');
    assert.ok(res.status === 400 || res.status === 403, String(res.status));
    const html = await res.text();
    const m = /<a class="back" href="([^"]+)">Return to the application<\/a>/.exec(html);
    assert.ok(m, html.slice(0, 500));
    const back = new URL(m[1]!.replace(/&amp;/g, '&'));
    assert.equal(`${back.origin}${back.pathname}`, EVIL);
    assert.equal(back.searchParams.get('error'), error);
    assert.equal(back.searchParams.get('state'), state ?? null);
    assert.equal(back.searchParams.get('code'), null);
  }

  it('a bad request for a registered https redirect URI gets a page to click, not a 302', async () => {
    const res = await fetch(authorizeUrl(s.url, { client_id: evilClient, response_type: 'x' }), { redirect: 'manual' });
    await expectClickThrough(res, 'unsupported_response_type');
    const { challenge } = pkce();
    const base = { client_id: evilClient, response_type: 'code', code_challenge: challenge };
    const noS256 = await fetch(authorizeUrl(s.url, { ...base, state: 'st' }), { redirect: 'manual' });
    await expectClickThrough(noS256, 'invalid_request', 'st');
    const longState = await fetch(authorizeUrl(s.url, { ...base, state: 'x'.repeat(2000) }), { redirect: 'manual' });
    await expectClickThrough(longState, 'invalid_request');
  });

  it('an upstream refusal for an https client gets a page to click too', async () => {
    s.upstream.mode = 'deny';
    try {
      const { challenge } = pkce();
      const r = await new Browser(s.url).go(
        authorizeUrl(s.url, {
          client_id: evilClient,
          response_type: 'code',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          state: 'st-2',
        }),
      );
      assert.equal(r.location, undefined, 'not redirected automatically');
      assert.equal(r.status, 403);
      assert.match(r.html!, /Return to the application/);
      assert.match(r.html!, /access_denied/);
    } finally {
      s.upstream.mode = 'ok';
    }
  });

  it('loopback clients are still answered at once; consent still redirects to an https client', async () => {
    const loopback = await publicClient(s.url);
    const res = await fetch(authorizeUrl(s.url, { client_id: loopback, response_type: 'x', state: 'st' }), {
      redirect: 'manual',
    });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
    assert.equal(loc.searchParams.get('error'), 'unsupported_response_type');
    const a = await authorizeCode(s, evilClient, { redirectUri: EVIL });
    assert.equal(`${a.location.origin}${a.location.pathname}`, EVIL);
  });

  it('a client registered before the scheme rules cannot use a now-refused redirect URI: a page, no redirect', async () => {
    const id = await publicClient(s.url, { redirect_uris: ['com.example.app:/cb'] });
    await sql(
      s.db.url,
      "UPDATE control.oauth_clients SET metadata = jsonb_set(metadata, '{redirect_uris}', $2) WHERE client_id = $1",
      [id, JSON.stringify(['ms-settings:network'])],
    );
    const res = await fetch(
      authorizeUrl(s.url, { client_id: id, response_type: 'x', redirect_uri: 'ms-settings:network' }),
      { redirect: 'manual' },
    );
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.doesNotMatch(await res.text(), /ms-settings:network\?/);
  });

  it('DCR refuses private-use schemes that open OS handlers; accepts reverse-domain and known clients', async () => {
    for (const uri of [
      'ms-settings:network',
      'ms-word:ofe|u|https://evil.example/x.docx',
      'search-ms:query=x',
      'ftp://evil.example/x',
      'mailto:a@evil.example',
      'tel:+15551234',
      'sms:+15551234',
      'file:///etc/passwd',
      'chrome://settings',
      'chrome-extension://abc/cb',
      'intent://x#Intent;end',
      'myapp://callback',
      'ms-app.example:/cb',
    ]) {
      const r = await register(s.url, { redirect_uris: [uri] });
      assert.equal(r.status, 400, uri);
      assert.equal(r.body.error, 'invalid_client_metadata', uri);
    }
    for (const uri of [
      'com.example.app:/oauth/callback',
      'cursor://anysphere.cursor-retrieval/oauth/callback',
      'vscode://vscode.github-authentication/did-authenticate',
      'vscode-insiders://x/cb',
      'claude://oauth/callback',
      'windsurf://cb',
    ]) {
      const r = await register(s.url, { redirect_uris: [uri] });
      assert.equal(r.status, 201, `${uri}: ${JSON.stringify(r.body)}`);
    }
  });
});

describe('security review: SSO enforcement and deprovisioning end existing grants', () => {
  let s: OAuthTestServer;
  let clientId: string;
  before(async () => {
    s = await startOAuthServer({
      JWT_CACHE_SECONDS: '0',
      TENANT_CACHE_TTL_MS: '0',
      OAUTH_GRANT_MAX_AGE_SECONDS: '3600',
    });
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s.close();
  });

  const grant = async () => {
    const t = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      ...(await authorizeCode(s, clientId).then((a) => ({ code: a.code, code_verifier: a.verifier }))),
      redirect_uri: REDIRECT,
      client_id: clientId,
      resource: s.resource,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return { access: t.body.access_token, refresh: t.body.refresh_token };
  };
  const refresh = (token: string) =>
    tokenRequest(s.url, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });
  const whoami = async (token: string) => (await postToolCall(s.url, token, 'whoami')).status;
  const setIdp = (idp: Record<string, unknown> | null) =>
    sql(s.db.url, "UPDATE control.tenants SET idp = $1 WHERE id = 'acme'", [idp && JSON.stringify(idp)]);

  it('a tenant that starts requiring its own IdP refuses tokens and refreshes of grants made elsewhere', async () => {
    const g = await grant(); // signed in through the server-wide fake 'oidc' provider
    assert.equal(await whoami(g.access), 200);
    try {
      await setIdp({
        issuer: 'https://sso.acme.example',
        clientId: 'acme',
        name: 'Acme SSO',
        allowOtherProviders: true,
      });
      assert.equal(await whoami(g.access), 200, 'allowOtherProviders keeps other providers');
      const ok = await refresh(g.refresh);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      await setIdp({ issuer: 'https://sso.acme.example', clientId: 'acme', name: 'Acme SSO' });
      assert.equal(await whoami(ok.body.access_token), 401);
      const refused = await refresh(ok.body.refresh_token);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, 'invalid_grant');
      assert.match(refused.body.error_description, /requires sign-in through its own identity provider \(Acme SSO\)/);
      const rows = await sql<{ revoked_reason: string | null }>(
        s.db.url,
        "SELECT revoked_reason FROM control.oauth_grants WHERE upstream = 'oidc' AND revoked_at IS NOT NULL",
      );
      assert.ok(
        rows.some((r) => r.revoked_reason === 'sso_required'),
        JSON.stringify(rows),
      );
    } finally {
      await setIdp(null);
    }
  });

  it("grants signed in through the tenant's own IdP keep working when it is required", async () => {
    const t = await startOAuthServer(
      { JWT_CACHE_SECONDS: '0', TENANT_CACHE_TTL_MS: '0' },
      { upstreams: fakeRegistry([fakeUpstream('tenant:acme')]) },
    );
    try {
      await sql(t.db.url, "UPDATE control.tenants SET idp = $1 WHERE id = 'acme'", [
        JSON.stringify({ issuer: 'https://sso.acme.example', clientId: 'acme' }),
      ]);
      const id = await publicClient(t.url);
      const a = await authorizeCode(t, id);
      const tok = await tokenRequest(t.url, {
        grant_type: 'authorization_code',
        code: a.code,
        code_verifier: a.verifier,
        redirect_uri: REDIRECT,
        client_id: id,
        resource: t.resource,
      });
      assert.equal(tok.status, 200, JSON.stringify(tok.body));
      const rows = await sql<{ upstream: string }>(t.db.url, 'SELECT upstream FROM control.oauth_grants');
      assert.deepEqual(rows, [{ upstream: 'tenant:acme' }], 'the grant records the provider that signed in');
      assert.equal((await postToolCall(t.url, tok.body.access_token, 'whoami')).status, 200);
      const r = await tokenRequest(t.url, {
        grant_type: 'refresh_token',
        refresh_token: tok.body.refresh_token,
        client_id: id,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    } finally {
      await t.close();
    }
  });

  it('a grant older than OAUTH_GRANT_MAX_AGE_SECONDS cannot be refreshed: sign in again', async () => {
    const young = await grant();
    const old = await grant();
    await sql(s.db.url, "UPDATE control.oauth_grants SET created_at = now() - interval '3601 seconds' WHERE id = $1", [
      (JSON.parse(Buffer.from(old.access.split('.')[1]!, 'base64url').toString()) as { grant_id: string }).grant_id,
    ]);
    const refused = await refresh(old.refresh);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    assert.match(refused.body.error_description, /sign in again/);
    const [row] = await sql<{ revoked_reason: string }>(
      s.db.url,
      "SELECT revoked_reason FROM control.oauth_grants WHERE created_at < now() - interval '1 hour'",
    );
    assert.equal(row?.revoked_reason, 'max_age');
    assert.equal((await refresh(young.refresh)).status, 200);
  });
});

describe('security review: emails are checked for ASCII before lower-casing on the sign-in path', () => {
  let s: OAuthTestServer;
  let clientId: string;
  before(async () => {
    s = await startOAuthServer();
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s.close();
  });

  it('an upstream address with the Kelvin sign gets a clear page, not a sign-in as the folded address', async () => {
    try {
      // \u212A lower-cases to 'k': '\u212Aate@acme.com' would become kate@acme.com, a real acme user.
      for (const email of ['\u212Aate@acme.com', 'ann@merc\u212A.com']) {
        s.upstream.identity.email = email;
        const { challenge } = pkce();
        const r = await new Browser(s.url).go(
          authorizeUrl(s.url, {
            response_type: 'code',
            client_id: clientId,
            redirect_uri: REDIRECT,
            code_challenge: challenge,
            code_challenge_method: 'S256',
            state: 'st',
            resource: s.resource,
          }),
        );
        assert.equal(r.status, 403, email);
        assert.match(r.html!, /ERR_TENANT_EMAIL_INVALID/);
        assert.match(r.html!, /Sign-in refused/);
        assert.doesNotMatch(r.html!, /kate@acme\.com|merck\.com/);
        assert.match(r.html!, /Return to the application/);
      }
      const grants = await sql(s.db.url, 'SELECT 1 FROM control.oauth_grants');
      assert.equal(grants.length, 0, 'nothing issued');
    } finally {
      s.upstream.identity.email = 'qa.manager@acme.com';
    }
  });

  it('a login_hint or typed email with the Kelvin sign is not used for home-realm discovery', async () => {
    const { challenge } = pkce();
    const b = new Browser(s.url);
    const r = await b.go(
      authorizeUrl(s.url, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource: s.resource,
        login_hint: 'ann@merc\u212A.com',
      }),
    );
    assert.equal(r.status, 200, 'one provider: straight through to consent');
    const hints = s.upstream.requests.map((x) => x.loginHint);
    assert.equal(hints.at(-1), undefined, 'the look-alike hint is not passed on folded');
  });
});

describe('security review: per-IP rate limits key IPv6 by /64', () => {
  let s: OAuthTestServer;
  before(async () => {
    // Behind a trusted local proxy, so the test can present IPv6 client addresses in X-Forwarded-For.
    s = await startOAuthServer({ OAUTH_RATE_LIMIT_PER_MINUTE: '10', TRUST_PROXY: 'loopback' });
  });
  after(async () => {
    await s.close();
  });

  const token = async (ip: string) => {
    const res = await fetch(`${s.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: 'grant_type=refresh_token&refresh_token=vmrt_nope&client_id=nope',
    });
    await res.body?.cancel();
    return res.status;
  };

  it('a client rotating through its /64 shares one budget; another /64 has its own; IPv4-mapped counts as IPv4', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 12; i++) statuses.push(await token(`2001:db8:1:2::${i.toString(16)}`));
    assert.ok(
      statuses.slice(0, 10).every((x) => x !== 429),
      statuses.join(','),
    );
    assert.equal(statuses.at(-1), 429, 'the 12th address of the same /64 is limited');
    assert.notEqual(await token('2001:db8:1:3::1'), 429, 'another /64 has its own budget');
    for (let i = 0; i < 10; i++) await token('198.51.100.9');
    assert.equal(await token('::ffff:198.51.100.9'), 429, 'IPv4-mapped IPv6 counts as the IPv4 address');
  });
});
