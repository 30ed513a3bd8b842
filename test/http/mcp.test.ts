import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('POST /mcp end to end (SDK client, real HTTP, real Postgres)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });

  it('lists and calls whoami with the identity from the token (RS256)', async () => {
    const client = await connectClient(
      s.url,
      await s.token({ sub: 'alice', email: 'alice@acme.com', scope: 'vault:read vault:vql' }),
    );
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'whoami'));
    const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.user, 'alice@acme.com');
    assert.equal(me.subject, `oidc:${s.issuer.issuer}|alice`);
    assert.equal(me.provider, 'oidc');
    assert.deepEqual(me.scopes, ['vault:read', 'vault:vql']);
    await client.close();
  });

  it('accepts ES256 tokens from the same issuer', async () => {
    const client = await connectClient(s.url, await s.token({ sub: 'bob', email: 'bob@acme.com' }, { alg: 'ES256' }));
    const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.user, 'bob@acme.com');
    await client.close();
  });

  it('answers GET and DELETE /mcp with 405 (stateless)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${s.url}/mcp`, { method });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'POST');
    }
  });
});
