/**
 * The POST /mcp fast path (src/http/mcp-transport.ts) against the SDK's own streamable-HTTP transport:
 * two apps with the same tools, tenant and Vault simulator, one of them forced through the SDK's
 * transport. Every exchange — initialize, tools/list per scope set, tools/call (ok, tool error,
 * invalid arguments, unknown tool), other methods, and the requests the fast path hands to the SDK
 * (batches, notifications, bad headers) — must answer the same status, Content-Type and body bytes.
 * The MCP SDK client works against the fast path too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { UserContext } from '../../src/auth/types.js';
import { loadConfig } from '../../src/config/index.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { createApp } from '../../src/http/app.js';
import { listen } from '../../src/http/listen.js';
import { createLogger } from '../../src/log/index.js';
import { createVaultTools } from '../../src/mcp/tools/index.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { createSessionManager } from '../../src/vault/session-manager.js';
import { createPgSessionStore } from '../../src/vault/session-store-pg.js';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { freePort } from '../helpers/server.js';
import {
  createTenantDb,
  makeTenant,
  provisionTenant,
  SA_AUTH,
  SIM_SECRETS,
  TEST_SECRET_KEY,
} from '../helpers/vault.js';

/** Bearer token → scopes (the verifier below trusts this table; authentication is not under test). */
const SCOPE_SETS: Record<string, string[]> = {
  none: [],
  read: ['vault:read'],
  vql: ['vault:read', 'vault:vql'],
  write: ['vault:read', 'vault:write'],
  all: ['vault:read', 'vault:vql', 'vault:write'],
};

interface Answer {
  status: number;
  contentType: string | null;
  headers: [string, string][];
  body: string;
}

describe('POST /mcp fast path answers exactly as the SDK transport', () => {
  let sim: VaultSimulator;
  let env: Awaited<ReturnType<typeof createTenantDb>>;
  let sessions: ReturnType<typeof createSessionManager>;
  const servers: { url: string; close(): Promise<void> }[] = [];
  let fast: string;
  let sdk: string;

  before(async () => {
    sim = await startVaultSimulator();
    env = await createTenantDb();
    const tenant = makeTenant(sim.url, SA_AUTH);
    await provisionTenant(env.pool, tenant);
    sessions = createSessionManager({
      store: createPgSessionStore({ pool: env.pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
    const tools = createVaultTools({ sessions });
    for (const fastPath of [true, false]) {
      const port = await freePort();
      // One public URL for both, so challenges (resource_metadata) compare equal.
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: String(port),
        PUBLIC_URL: 'http://127.0.0.1:1',
        ALLOWED_HOSTS: '127.0.0.1',
        LOG_LEVEL: 'silent',
      });
      const app = createApp({
        config,
        log: createLogger({ level: 'silent' }),
        verifier: {
          verify: (token): Promise<UserContext> =>
            Promise.resolve({
              subject: 'qa',
              provider: 'oidc',
              issuer: 'https://idp.test',
              email: 'qa.manager@acme.com',
              emailVerified: true,
              scopes: SCOPE_SETS[token] ?? [],
              clientId: 'c',
              expiresAt: 4102444800,
            }),
        },
        tools,
        authorizationServers: [],
        resolveTenant: () => Promise.resolve(tenant),
        readiness: () => Promise.resolve({ ready: true }),
        mcpFastPath: fastPath,
      });
      servers.push(await listen(app, { port, host: '127.0.0.1' }));
    }
    [fast, sdk] = [servers[0]!.url, servers[1]!.url];
  });
  after(async () => {
    for (const s of servers) await s.close();
    await sessions?.close();
    await env?.close();
    await sim?.close();
  });

  async function post(
    url: string,
    body: string,
    opts: { token?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${opts.token ?? 'read'}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...opts.headers,
      },
      body,
    });
    // Every header but the per-response ones (date, request id).
    const headers = [...res.headers.entries()].filter(([k]) => k !== 'date' && k !== 'x-request-id');
    return { status: res.status, contentType: res.headers.get('content-type'), headers, body: await res.text() };
  }

  /** The same exchange on both servers; returns the fast path's answer after checking they are equal. */
  async function same(message: unknown, opts: { token?: string; headers?: Record<string, string> } = {}) {
    const body = typeof message === 'string' ? message : JSON.stringify(message);
    const [a, b] = [await post(fast, body, opts), await post(sdk, body, opts)];
    assert.deepEqual(a, b, `fast path and SDK transport differ for ${body.slice(0, 120)}`);
    return a;
  }

  const req = (method: string, params?: unknown, id: unknown = 1) => ({
    jsonrpc: '2.0',
    id,
    method,
    ...(params === undefined ? {} : { params }),
  });

  it('initialize, with each protocol version a client may ask for', async () => {
    for (const protocolVersion of ['2025-06-18', '2025-03-26', '2024-11-05', '1999-01-01']) {
      const a = await same(
        req('initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '0' } }),
      );
      assert.equal(a.status, 200);
      assert.equal(a.contentType, 'application/json');
      assert.match(a.body, /"serverInfo":\{"name":"vault-mcp"/);
    }
  });

  it('tools/list for every scope set shows the same tools and JSON schemas', async () => {
    const seen = new Set<string>();
    for (const token of Object.keys(SCOPE_SETS)) {
      const a = await same(req('tools/list'), { token, headers: { 'mcp-protocol-version': '2025-06-18' } });
      assert.equal(a.status, 200);
      seen.add(a.body);
    }
    assert.ok(seen.size >= 4, 'scope sets see different tool lists');
  });

  it('tools/call: results, tool errors, invalid arguments, unknown tools, scope refusals', async () => {
    const calls: [string, unknown, string?][] = [
      ['whoami', {}],
      ['documents_query', { status: ['Effective'], page_size: 5 }],
      ['documents_query', { page_size: 'many' }],
      ['documents_get', { id: 999999 }],
      ['vql_query', { q: "SELECT id FROM documents WHERE status__v = 'Effective'" }, 'vql'],
      ['vql_query', { q: 'DELETE FROM documents' }, 'vql'],
      ['vql_query', { q: 'SELECT id FROM documents' }, 'read'],
      ['no_such_tool', {}],
    ];
    for (const [name, args, token] of calls) {
      const a = await same(req('tools/call', { name, arguments: args }), { token });
      assert.ok([200, 403].includes(a.status), `${name}: ${a.status} ${a.body}`);
    }
    // The ids of the answers are the request's, whatever their type.
    for (const id of ['abc', 0, 987654321]) {
      const a = await same(req('tools/call', { name: 'whoami', arguments: {} }, id));
      assert.equal(JSON.parse(a.body).id, id);
    }
  });

  it('other methods: ping, unsupported methods, malformed params', async () => {
    await same(req('ping'));
    await same(req('resources/list'));
    await same(req('prompts/list'));
    await same(req('no/such/method'));
    await same(req('tools/call', { arguments: {} }));
    await same(req('tools/call', 'not an object'));
  });

  it('what the fast path hands to the SDK: batches, notifications, responses, bad headers, bad messages', async () => {
    const batch = await same([req('ping', undefined, 1), req('tools/list', undefined, 2)]);
    assert.equal(batch.status, 200);
    assert.equal((await same({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
    assert.equal((await same({ jsonrpc: '2.0', id: 5, result: {} })).status, 202);
    assert.equal((await same(req('ping'), { headers: { accept: 'application/json' } })).status, 406);
    assert.equal((await same(req('ping'), { headers: { 'mcp-protocol-version': '1999-01-01' } })).status, 400);
    assert.equal((await same({ jsonrpc: '1.0', id: 1, method: 'ping' })).status, 400);
    assert.equal((await same({ jsonrpc: '2.0', id: 1, method: 'ping', extra: true })).status, 400);
    assert.equal((await same('{"jsonrpc":')).status, 400);
    const init = req('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't' } });
    await same(init, { headers: { 'mcp-protocol-version': '1999-01-01' } });
  });

  it('the MCP SDK client lists and calls tools through the fast path', async () => {
    const client = await connectClient(fast, 'all');
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'vql_query'));
      const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.equal(me.user, 'qa.manager@acme.com');
    } finally {
      await client.close();
    }
  });
});
