import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseChallenge, postMcp } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function post(url: string, headers: Record<string, string> = {}) {
  return postMcp(url, headers);
}

describe('401 challenges (RFC 6750 + RFC 9728)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });

  it('without a token: 401 with resource_metadata and invalid_token', async () => {
    const res = await post(s.url);
    assert.equal(res.status, 401);
    const c = parseChallenge(res.headers.get('www-authenticate'));
    assert.equal(c.resource_metadata, `${s.url}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(c.error, 'invalid_token');
    assert.match(c.error_description!, /Authorization/);
    const body = (await res.json()) as any;
    assert.equal(body.error, 'invalid_token');
  });

  it('with a garbage token: 401 naming the problem', async () => {
    const res = await post(s.url, { authorization: 'Bearer not-a-jwt' });
    assert.equal(res.status, 401);
    assert.match(parseChallenge(res.headers.get('www-authenticate')).error_description!, /not a JWT/);
  });

  it('with an expired token: 401 naming exp', async () => {
    const res = await post(s.url, { authorization: `Bearer ${await s.token({}, { expiresIn: -3600 })}` });
    assert.equal(res.status, 401);
    assert.match(parseChallenge(res.headers.get('www-authenticate')).error_description!, /expired \(exp\)/);
  });

  it('with a token for another resource: 401 naming aud', async () => {
    const res = await post(s.url, {
      authorization: `Bearer ${await s.token({ aud: 'https://other.example.com/mcp' })}`,
    });
    assert.equal(res.status, 401);
    assert.match(parseChallenge(res.headers.get('www-authenticate')).error_description!, /audience \(aud\)/);
  });

  it('refuses a token in the query string', async () => {
    const res = await fetch(`${s.url}/mcp?access_token=abc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 400);
  });

  it('serves the protected-resource metadata at both well-known paths', async () => {
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await fetch(`${s.url}${p}`);
      assert.equal(res.status, 200);
      const m = (await res.json()) as any;
      assert.equal(m.resource, s.resource);
      assert.deepEqual(m.authorization_servers, [s.issuer.issuer]);
      assert.ok(m.scopes_supported.includes('vault:read'));
      assert.deepEqual(m.bearer_methods_supported, ['header']);
    }
  });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const r = await fetch(`${s.url}/readyz`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as any).status, 'ready');
  });
});
