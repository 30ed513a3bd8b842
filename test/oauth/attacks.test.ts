/**
 * Bad input at the authorization server, one test each: an OAuth error (RFC 6749) or an error page,
 * nothing issued, and an audit row when the user is known. Headless browser, real server, fake upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postToolCall } from '../helpers/mcp.js';
import {
  authorizeCode,
  authorizeUrl,
  Browser,
  exchange,
  oauthAuditRows,
  pkce,
  publicClient,
  REDIRECT,
  register,
  sql,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';

describe('authorization server: refusals', () => {
  let s: OAuthTestServer;
  let clientId: string;
  before(async () => {
    s = await startOAuthServer({ JWT_CACHE_SECONDS: '0' });
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s.close();
  });

  const params = (over: Record<string, string | undefined> = {}) => {
    const { challenge } = pkce();
    return {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-1',
      resource: s.resource,
      ...over,
    };
  };

  /** Expect an error page and no redirect at all (the client or redirect URI is not trusted). */
  async function expectPage(over: Record<string, string | undefined>, text: RegExp) {
    const res = await fetch(authorizeUrl(s.url, params(over)), { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null, 'never redirected');
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.match(await res.text(), text);
    return res;
  }

  /** Expect an OAuth error redirect to the registered URI, with state and iss. */
  async function expectRedirectError(over: Record<string, string | undefined>, error: string) {
    const res = await fetch(authorizeUrl(s.url, params(over)), { redirect: 'manual' });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
    assert.equal(loc.searchParams.get('error'), error, loc.href);
    assert.equal(loc.searchParams.get('state'), 'st-1');
    assert.equal(loc.searchParams.get('iss'), s.url);
    assert.equal(loc.searchParams.get('code'), null);
    return loc;
  }

  it('unknown client: an error page, no redirect', async () => {
    await expectPage({ client_id: 'no-such-client' }, /not registered here/);
    await expectPage({ client_id: undefined }, /no client_id/);
  });

  it('unregistered redirect_uri and open-redirect variants: an error page, never a redirect', async () => {
    for (const evil of [
      'https://evil.example/callback',
      'http://127.0.0.1:9/callback/../evil',
      'http://127.0.0.1:9/callbackx',
      'http://127.0.0.1:9/callback?next=https://evil.example',
      'http://127.0.0.1:9/callback#frag',
      'http://127.0.0.1.evil.example:9/callback',
      'http://localhost:9/callback',
      'javascript:alert(1)//http://127.0.0.1:9/callback',
      '//evil.example/callback',
    ])
      await expectPage({ redirect_uri: evil }, /not registered for this client/);
  });

  it('loopback redirect: any port, same path (RFC 8252)', async () => {
    const a = await authorizeCode(s, clientId, { redirectUri: 'http://127.0.0.1:54321/callback' });
    assert.equal(a.location.port, '54321');
  });

  it('two redirect_uri parameters are refused', async () => {
    const u = new URL(authorizeUrl(s.url, params()));
    u.searchParams.append('redirect_uri', 'https://evil.example/cb');
    const res = await fetch(u, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
  });

  it('PKCE: missing, plain, absent method, malformed → invalid_request', async () => {
    await expectRedirectError({ code_challenge: undefined }, 'invalid_request');
    await expectRedirectError({ code_challenge_method: 'plain' }, 'invalid_request');
    await expectRedirectError({ code_challenge_method: undefined }, 'invalid_request');
    await expectRedirectError({ code_challenge: 'short' }, 'invalid_request');
  });

  it('response_type other than code → unsupported_response_type', async () => {
    await expectRedirectError({ response_type: 'token' }, 'unsupported_response_type');
  });

  it('resource that is not this server → invalid_target', async () => {
    await expectRedirectError({ resource: 'https://other.example/mcp' }, 'invalid_target');
    await expectRedirectError({ resource: `${s.resource}/` }, 'invalid_target');
  });

  it('OIDC identity scopes and offline_access are ignored, not refused', async () => {
    const a = await authorizeCode(s, clientId, { scope: 'openid email profile offline_access vault:read' });
    const t = await exchange(s, clientId, a);
    assert.equal(t.body.scope, 'vault:read');
  });

  it('unknown scope → invalid_scope', async () => {
    const loc = await expectRedirectError({ scope: 'vault:read vault:admin' }, 'invalid_scope');
    assert.match(loc.searchParams.get('error_description')!, /vault:admin/);
  });

  it('wrong PKCE verifier and missing verifier at the token endpoint → invalid_grant / invalid_request; the code is spent', async () => {
    const a = await authorizeCode(s, clientId);
    const wrong = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: pkce().verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');
    assert.match(wrong.body.error_description, /code_verifier does not match/);
    assert.equal(wrong.body.access_token, undefined);
    // The code was consumed by the failed attempt: the right verifier now counts as a replay.
    const late = await exchange(s, clientId, a);
    assert.equal(late.body.error, 'invalid_grant');

    const rows = await oauthAuditRows(s.db.url);
    assert.ok(
      rows.some(
        (r) =>
          r.tool === 'oauth.token' &&
          r.outcome === 'denied' &&
          /code_verifier does not match/.test(String(r.details.reason)),
      ),
      'the refused exchange is audited: the user is known from the code',
    );
    const b = await authorizeCode(s, clientId);
    const none = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code: b.code,
      redirect_uri: REDIRECT,
      client_id: clientId,
    });
    assert.equal(none.body.error, 'invalid_request');
  });

  it('redirect_uri mismatch at the token endpoint → invalid_grant', async () => {
    const a = await authorizeCode(s, clientId);
    const r = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.verifier,
      redirect_uri: 'http://127.0.0.1:9/other',
      client_id: clientId,
    });
    assert.equal(r.body.error, 'invalid_grant');
    const c = await authorizeCode(s, clientId);
    const omitted = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.verifier,
      client_id: clientId,
    });
    assert.equal(
      omitted.body.error,
      'invalid_grant',
      'authorize named redirect_uri, so the token request must repeat it',
    );
  });

  it('a code of another client → invalid_grant', async () => {
    const other = await publicClient(s.url, { client_name: 'Other' });
    const a = await authorizeCode(s, clientId);
    const r = await exchange(s, other, a);
    assert.equal(r.body.error, 'invalid_grant');
    assert.match(r.body.error_description, /another client/);
  });

  it('resource mismatch at the token endpoint → invalid_target', async () => {
    const a = await authorizeCode(s, clientId);
    const r = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
      resource: 'https://other.example/mcp',
    });
    assert.equal(r.body.error, 'invalid_target');
  });

  it('replayed code: refused, and everything the first exchange issued is revoked', async () => {
    const a = await authorizeCode(s, clientId);
    const first = await exchange(s, clientId, a);
    assert.equal(first.status, 200);
    assert.equal((await postToolCall(s.url, first.body.access_token, 'whoami')).status, 200);
    const replay = await exchange(s, clientId, a);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.match(replay.body.error_description, /already used/);
    const refresh = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(refresh.body.error, 'invalid_grant');
    const res = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${first.body.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    // Verified in full on every request here (JWT_CACHE_SECONDS=0); with the cache, within that TTL.
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /revoked \(code_replay\)/);
    const rows = await oauthAuditRows(s.db.url);
    assert.ok(
      rows.some((r) => r.tool === 'oauth.code_replay' && r.outcome === 'denied'),
      JSON.stringify(rows.map((r) => r.tool)),
    );
  });

  it('expired code → invalid_grant', async () => {
    const a = await authorizeCode(s, clientId);
    await sql(
      s.db.url,
      "UPDATE control.oauth_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL",
    );
    const r = await exchange(s, clientId, a);
    assert.equal(r.body.error, 'invalid_grant');
    assert.match(r.body.error_description, /expired/);
  });

  it('scope escalation on refresh → invalid_scope; narrowing is allowed', async () => {
    const a = await authorizeCode(s, clientId, { scope: 'vault:read' });
    const t = await exchange(s, clientId, a);
    const up = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: clientId,
      scope: 'vault:read vault:write',
    });
    assert.equal(up.status, 400);
    assert.equal(up.body.error, 'invalid_scope');
    assert.equal(up.body.access_token, undefined);
    // The refused escalation did not spend the token.
    const same = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: clientId,
      scope: 'vault:read',
    });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    const rows = await oauthAuditRows(s.db.url);
    assert.ok(rows.some((r) => r.tool === 'oauth.refresh' && r.error_code === 'ERR_OAUTH_INVALID_SCOPE'));
  });

  it('refresh token reuse revokes the whole grant (the rotated successor too)', async () => {
    const a = await authorizeCode(s, clientId);
    const t = await exchange(s, clientId, a);
    const r1 = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(r1.status, 200);
    const reuse = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(reuse.body.error, 'invalid_grant');
    assert.match(reuse.body.error_description, /already used/);
    const successor = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: r1.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(successor.body.error, 'invalid_grant', 'the attacker (or victim) copy is dead too');
    const grants = await sql<{ revoked_reason: string }>(
      s.db.url,
      "SELECT revoked_reason FROM control.oauth_grants WHERE revoked_reason = 'refresh_reuse'",
    );
    assert.ok(grants.length >= 1);
    const rows = await oauthAuditRows(s.db.url);
    assert.ok(rows.some((r) => r.tool === 'oauth.refresh_reuse'));
  });

  it('a refresh token of another client → invalid_grant', async () => {
    const other = await publicClient(s.url, { client_name: 'Other' });
    const t = await exchange(s, clientId, await authorizeCode(s, clientId));
    const r = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: other,
    });
    assert.equal(r.body.error, 'invalid_grant');
  });

  it('consent without a CSRF token, with a wrong one, or from another browser: refused, nothing issued, audited', async () => {
    const b = new Browser(s.url);
    const page = await b.go(authorizeUrl(s.url, params()));
    assert.equal(page.status, 200);
    const missing = await b.consent(page.html!, 'approve', (f) => delete f.csrf);
    assert.equal(missing.status, 403);
    assert.equal(missing.location, undefined);
    const wrong = await b.consent(page.html!, 'approve', (f) => (f.csrf = 'x'.repeat(43)));
    assert.equal(wrong.status, 403);
    const elsewhere = new Browser(s.url);
    const other = await elsewhere.consent(page.html!, 'approve');
    assert.equal(other.status, 403);
    assert.match(other.html!, /another browser/);
    // The right browser with the right token still works once; a second submit does nothing.
    const ok = await b.consent(page.html!, 'approve');
    assert.ok(ok.location?.searchParams.get('code'));
    const twice = await b.consent(page.html!, 'approve');
    assert.equal(twice.location, undefined);
    const rows = await oauthAuditRows(s.db.url);
    const denied = rows.filter((r) => r.tool === 'oauth.consent' && r.error_code === 'ERR_OAUTH_CSRF');
    assert.ok(denied.length >= 3, JSON.stringify(denied));
  });

  it('a cross-site consent POST carries no SameSite=Lax cookie: refused', async () => {
    const b = new Browser(s.url);
    const page = await b.go(authorizeUrl(s.url, params()));
    const cookie = [...b.cookies].find(([k]) => k.includes('vmcp_browser'));
    assert.ok(cookie);
    const raw = (await fetch(authorizeUrl(s.url, params()), { redirect: 'manual' })).headers.get('set-cookie')!;
    assert.match(raw, /HttpOnly/i);
    assert.match(raw, /SameSite=Lax/i);
    b.cookies.clear(); // what a cross-site POST looks like
    const r = await b.consent(page.html!, 'approve');
    assert.equal(r.status, 403);
  });

  it('deny → access_denied to the client, no code', async () => {
    const b = new Browser(s.url);
    const page = await b.go(authorizeUrl(s.url, params()));
    const r = await b.consent(page.html!, 'deny');
    assert.equal(r.location?.searchParams.get('error'), 'access_denied');
    assert.equal(r.location?.searchParams.get('code'), null);
    assert.equal(r.location?.searchParams.get('state'), 'st-1');
  });

  it('the consent page shows the user, the unverified client name escaped, the redirect host and the scopes', async () => {
    const evil = await publicClient(s.url, { client_name: '<script>alert(1)</script>Claude' });
    const b = new Browser(s.url);
    const page = await b.go(authorizeUrl(s.url, params({ client_id: evil, scope: 'vault:read vault:write' })));
    assert.equal(page.status, 200);
    assert.ok(!page.html!.includes('<script>'), 'client_name is escaped');
    assert.match(page.html!, /&lt;script&gt;alert\(1\)&lt;\/script&gt;Claude/);
    assert.match(page.html!, /not verified/);
    assert.match(page.html!, /qa\.manager@acme\.com/);
    assert.match(page.html!, /127\.0\.0\.1:9/);
    assert.match(page.html!, /vault:write/);
  });

  it('upstream denial → access_denied to the client; upstream error → an error page; nothing issued', async () => {
    s.upstream.mode = 'deny';
    try {
      const r = await new Browser(s.url).go(authorizeUrl(s.url, params()));
      assert.equal(r.location?.searchParams.get('error'), 'access_denied');
      assert.equal(r.location?.searchParams.get('code'), null);
      s.upstream.mode = 'fail';
      const f = await new Browser(s.url).go(authorizeUrl(s.url, params()));
      assert.equal(f.status, 502);
      assert.match(f.html!, /refused the code/);
    } finally {
      s.upstream.mode = 'ok';
    }
  });

  it('a callback replayed in another browser does nothing', async () => {
    const b = new Browser(s.url);
    const res = await b.request(authorizeUrl(s.url, params()));
    const callback = res.headers.get('location')!; // the fake upstream's answer: our callback with a code
    assert.match(callback, /\/oauth\/callback\/oidc\?/); // the provider's own callback path
    const victim = new Browser(s.url);
    const r = await victim.go(new URL(callback, s.url).href);
    assert.equal(r.status, 403);
    assert.match(r.html!, /another browser/);
  });

  it('unverified email → a page, no code', async () => {
    s.upstream.identity.emailVerified = false;
    try {
      const r = await new Browser(s.url).go(authorizeUrl(s.url, params()));
      assert.equal(r.status, 403);
      assert.match(r.html!, /not.*verified/);
      assert.equal(r.location, undefined);
    } finally {
      s.upstream.identity.emailVerified = true;
    }
  });

  it('a domain with no tenant → a clear page naming the domain, no code', async () => {
    s.upstream.identity.email = 'someone@unknown-pharma.example';
    try {
      const r = await new Browser(s.url).go(authorizeUrl(s.url, params()));
      assert.equal(r.status, 403);
      assert.match(r.html!, /unknown-pharma\.example/);
      assert.match(r.html!, /ERR_TENANT_UNKNOWN_DOMAIN/);
    } finally {
      s.upstream.identity.email = 'qa.manager@acme.com';
    }
  });

  it('DCR refuses dangerous redirect URIs and unsupported methods', async () => {
    for (const uri of [
      'javascript:alert(1)',
      'http://evil.example/cb',
      'https://x.example/cb#f',
      'data:text/html,hi',
    ]) {
      const r = await register(s.url, { redirect_uris: [uri] });
      assert.equal(r.status, 400, uri);
      assert.equal(r.body.error, 'invalid_client_metadata');
    }
    const implicit = await register(s.url, { grant_types: ['implicit'] });
    assert.equal(implicit.status, 400);
  });

  it('confidential clients: the secret is checked (basic and post), hashed at rest', async () => {
    const r = await register(s.url, { token_endpoint_auth_method: 'client_secret_basic' });
    assert.equal(r.status, 201);
    const { client_id: id, client_secret: secret } = r.body;
    assert.ok(secret);
    const stored = await sql<{ m: string }>(
      s.db.url,
      'SELECT metadata::text AS m FROM control.oauth_clients WHERE client_id = $1',
      [id],
    );
    assert.ok(!stored[0]!.m.includes(secret), 'the secret is not stored');
    const a = await authorizeCode(s, id);
    const basic = (sec: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${sec}`).toString('base64')}` });
    const bad = await tokenRequest(
      s.url,
      { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier, redirect_uri: REDIRECT },
      basic('wrong'),
    );
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
    const none = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.verifier,
      redirect_uri: REDIRECT,
      client_id: id,
    });
    assert.equal(none.status, 401);
    const good = await tokenRequest(
      s.url,
      { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier, redirect_uri: REDIRECT },
      basic(secret),
    );
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });

  it('unsupported grant types → unsupported_grant_type', async () => {
    const r = await tokenRequest(s.url, { grant_type: 'client_credentials', client_id: clientId });
    assert.equal(r.body.error, 'unsupported_grant_type');
    const p = await tokenRequest(s.url, { grant_type: 'password', client_id: clientId, username: 'a', password: 'b' });
    assert.equal(p.body.error, 'unsupported_grant_type');
  });

  it('refresh tokens and codes are stored as hashes only', async () => {
    const t = await exchange(s, clientId, await authorizeCode(s, clientId));
    const dump = JSON.stringify(
      await sql(s.db.url, 'SELECT encode(token_sha256, $1) AS h FROM control.oauth_refresh_tokens', ['escape']),
    );
    assert.ok(!dump.includes(t.body.refresh_token.slice(5)));
    const grants = JSON.stringify(
      await sql(s.db.url, "SELECT encode(upstream_ciphertext, 'base64') AS c FROM control.oauth_grants"),
    );
    assert.ok(!grants.includes(s.upstream.identity.upstreamTokens.accessToken), 'upstream tokens are encrypted');
    // This tenant's Vault mode is not `oauth`: nothing needs the upstream tokens, so none are kept.
    const kept = await sql(
      s.db.url,
      'SELECT count(*)::int AS n FROM control.oauth_grants WHERE upstream_ciphertext IS NOT NULL',
    );
    assert.equal(kept[0]!.n, 0);
  });
});

describe('authorization server: forged tokens and races', () => {
  let s: OAuthTestServer;
  let clientId: string;
  before(async () => {
    s = await startOAuthServer({ JWT_CACHE_SECONDS: '0' });
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s.close();
  });

  const status = async (token: string) => (await postToolCall(s.url, token, 'whoami')).status;

  it('tokens naming our issuer but not signed by us, tampered, re-audienced or typ-less are refused', async () => {
    const { SignJWT, generateKeyPair } = await import('jose');
    const t = await exchange(s, clientId, await authorizeCode(s, clientId));
    const good = t.body.access_token;
    assert.equal(await status(good), 200);
    const claims = JSON.parse(Buffer.from(good.split('.')[1]!, 'base64url').toString());
    const header = JSON.parse(Buffer.from(good.split('.')[0]!, 'base64url').toString());
    const { privateKey } = await generateKeyPair('ES256');
    // Same kid and claims, another key.
    const forged = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
    assert.equal(await status(forged), 401);
    // Payload edited (more scopes), signature kept.
    const more = Buffer.from(JSON.stringify({ ...claims, scope: 'vault:read vault:write' })).toString('base64url');
    assert.equal(await status(`${good.split('.')[0]}.${more}.${good.split('.')[2]}`), 401);
    // alg none.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${good.split('.')[1]}.`;
    assert.equal(await status(none), 401);
    // A header that is not base64url JSON, with a payload naming our issuer: 401, not a 500.
    assert.equal(await status(`AAAA.${good.split('.')[1]}.x`), 401);
    // A refresh token is not an access token.
    assert.equal(await status(t.body.refresh_token), 401);
  });

  it('two concurrent exchanges of one code: one wins, the replay revokes what the winner got', async () => {
    const a = await authorizeCode(s, clientId);
    const [r1, r2] = await Promise.all([exchange(s, clientId, a), exchange(s, clientId, a)]);
    const won = [r1, r2].filter((r) => r.status === 200);
    assert.equal(won.length, 1);
    assert.equal(await status(won[0]!.body.access_token), 401);
  });

  it('two concurrent refreshes with one token: at most one succeeds, and the grant is revoked', async () => {
    const t = await exchange(s, clientId, await authorizeCode(s, clientId));
    const form = { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: clientId };
    const rs = await Promise.all([tokenRequest(s.url, form), tokenRequest(s.url, form), tokenRequest(s.url, form)]);
    assert.ok(rs.filter((r) => r.status === 200).length <= 1);
    assert.ok(rs.some((r) => r.body.error === 'invalid_grant'));
    const g = await sql<{ n: number }>(
      s.db.url,
      "SELECT count(*)::int AS n FROM control.oauth_grants WHERE revoked_reason = 'refresh_reuse'",
    );
    assert.ok(g[0]!.n >= 1);
  });
});
