/**
 * The client most desktop users have: `mcp-remote` (stdio ↔ streamable HTTP proxy) with a static
 * Authorization header, driven by the SDK's stdio client exactly as Claude Desktop would run it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { toolJson } from '../helpers/mcp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('mcp-remote with a static bearer header', () => {
  let s: TestServer;
  let configDir: string;
  before(async () => {
    s = await startTestServer();
    configDir = await mkdtemp(path.join(tmpdir(), 'vmcp-mcp-remote-'));
  });
  after(async () => {
    await s?.close();
    await rm(configDir, { recursive: true, force: true });
  });

  async function connect(token: string) {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        path.resolve('node_modules/mcp-remote/dist/proxy.js'),
        s.resource,
        '--header',
        `Authorization:Bearer ${token}`,
        '--transport',
        'http-only',
      ],
      // mcp-remote keeps OAuth state here; a private dir keeps the test hermetic.
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'claude-desktop-like', version: '0.0.0' });
    await client.connect(transport);
    return client;
  }

  it('lists tools and calls whoami as the token user', async () => {
    const client = await connect(
      await s.token({ sub: 'remote-user', email: 'remote.user@acme.com', scope: 'vault:read' }),
    );
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('whoami'));
      assert.ok(names.includes('documents_query'));
      assert.ok(!names.includes('vql_query'), 'vql_query needs vault:vql, which this token lacks');
      const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.equal(me.user, 'remote.user@acme.com');
      assert.equal(me.tenant, 'acme');
    } finally {
      await client.close();
    }
  });
});
