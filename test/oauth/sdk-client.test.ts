/**
 * End to end with the MCP SDK client's own OAuth support (`@modelcontextprotocol/sdk/client/auth.js`
 * through StreamableHTTPClientTransport's authProvider): 401 → RFC 9728 discovery → RFC 8414 metadata →
 * Dynamic Client Registration → PKCE authorize (a headless browser signs in at the fake upstream and
 * approves the consent form) → token → whoami → refresh after the access token stops working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { toolJson } from '../helpers/mcp.js';
import { Browser, SdkTestProvider as TestProvider, startOAuthServer, type OAuthTestServer } from '../helpers/oauth.js';

describe('MCP SDK client OAuth against the real server', () => {
  let s: OAuthTestServer;
  before(async () => {
    s = await startOAuthServer();
  });
  after(async () => {
    await s.close();
  });

  it('discovers, registers, authorizes with PKCE, calls whoami and refreshes', async () => {
    const provider = new TestProvider(new Browser(s.url));
    const mcp = new URL('/mcp', s.url);
    const first = new StreamableHTTPClientTransport(mcp, { authProvider: provider });
    const client = new Client({ name: 'sdk-e2e', version: '0' });
    await assert.rejects(client.connect(first), UnauthorizedError);
    assert.ok(provider.info?.client_id, 'dynamically registered');
    assert.ok(provider.code, 'the browser came back with a code');
    await first.finishAuth(provider.code);
    assert.ok(provider.saved?.access_token && provider.saved.refresh_token);

    const c2 = new Client({ name: 'sdk-e2e', version: '0' });
    await c2.connect(new StreamableHTTPClientTransport(mcp, { authProvider: provider }));
    const me = toolJson(await c2.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.user, 'qa.manager@acme.com');
    assert.equal(me.tenant, 'acme');
    await c2.close();

    // The access token stops working (here: replaced by a token of no issuer we trust): the SDK refreshes.
    const oldRefresh = provider.saved?.refresh_token;
    provider.saved = { ...provider.saved, access_token: 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln' };
    const c3 = new Client({ name: 'sdk-e2e', version: '0' });
    await c3.connect(new StreamableHTTPClientTransport(mcp, { authProvider: provider }));
    const again = toolJson(await c3.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(again.user, 'qa.manager@acme.com');
    assert.ok(provider.refreshes >= 1);
    assert.notEqual(provider.saved?.refresh_token, oldRefresh, 'the refresh token rotated');
    await c3.close();
  });
});
