/**
 * Pieces of the MCP surface on their own: the output cap, the metadata cache, argument error
 * messages, and the lifecycle confirmation through MCP elicitation (a client that declares the
 * capability, connected in memory as stdio mode connects one, against the simulator).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER } from '../../src/dev/vault-sim/seed.js';
import { toAuthInfo } from '../../src/mcp/context.js';
import { capOutputJson, MAX_OUTPUT_CHARS } from '../../src/mcp/output.js';
import { createMcpServer, onlyToolRequests } from '../../src/mcp/server.js';
import { describeIssues, toResult } from '../../src/mcp/tool.js';
import { createMetadataCache } from '../../src/mcp/tools/metadata-cache.js';
import { createVaultMcp } from '../../src/mcp/tools/index.js';
import { createSessionManager, type SessionManager } from '../../src/vault/session-manager.js';
import { createMemorySessionStore } from '../../src/vault/session-store.js';
import { ctxFor, makeTenant, SA_AUTH, SIM_SECRETS } from '../helpers/vault.js';

describe('output cap', () => {
  const capped = (v: unknown) => capOutputJson(v).value;

  it('small results pass unchanged', () => {
    const v = { total: 1, documents: [{ id: 1 }] };
    assert.equal(capped(v), v);
  });

  it('cuts rows from the end of the largest list, withdraws next_page and says how to get the rest', () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ id: i, name__v: 'x'.repeat(300) }));
    const v = capped({
      total: 900,
      returned: 500,
      documents: rows,
      next_page: '/api/v25.2/query/abc?x=1',
    }) as Record<string, unknown>;
    assert.ok(JSON.stringify(v).length <= MAX_OUTPUT_CHARS);
    const kept = (v.documents as unknown[]).length;
    assert.ok(kept > 100 && kept < 500);
    assert.deepEqual([v.truncated, v.omitted, v.returned, v.next_page], [true, 500 - kept, kept, null]);
    assert.match(String(v.hint), new RegExp(`Repeat with page_size=${kept}`));
  });

  it('offset-based results get a next_offset after the last row kept; a lone long string is cut', () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ id: i, event_description: 'y'.repeat(400) }));
    const v = capped({ offset: 40, entries: rows, next_offset: 340 }) as Record<string, unknown>;
    assert.equal(v.next_offset, 40 + (v.entries as unknown[]).length);
    const t = capped({ text: 'z'.repeat(100_000) }) as Record<string, unknown>;
    assert.ok(JSON.stringify(t).length <= MAX_OUTPUT_CHARS);
    assert.equal(t.truncated, true);
  });
});

describe('tool result rendering', () => {
  it('the text block is the compact JSON of the structured content, serialised once by the cap', () => {
    const small = { total: 1, returned: 1, documents: [{ id: 1, name__v: 'a "quoted" name' }], next_page: null };
    const a = capOutputJson(small);
    assert.equal(a.value, small);
    assert.equal(a.json, JSON.stringify(small));
    const r = toResult(a.value, a.json);
    assert.deepEqual(r.content, [{ type: 'text', text: JSON.stringify(small) }]);
    assert.ok(!(r.content[0] as { text: string }).text.includes('\n'), 'no indentation');
    assert.equal(r.structuredContent, small);

    const rows = Array.from({ length: 500 }, (_, i) => ({ id: i, name__v: 'x'.repeat(300) }));
    const b = capOutputJson({ total: 900, returned: 500, documents: rows, next_page: null });
    assert.equal((b.value as { truncated?: boolean }).truncated, true);
    assert.equal(b.json, JSON.stringify(b.value), 'the text of a capped result is the capped value');
    assert.ok(b.json.length <= MAX_OUTPUT_CHARS);
  });

  it('non-object values: text without structured content (strings as they are)', () => {
    assert.deepEqual(capOutputJson([1, 2]), { value: [1, 2], json: undefined });
    assert.deepEqual(toResult([1, 2]), { content: [{ type: 'text', text: '[1,2]' }] });
    assert.deepEqual(toResult('plain'), { content: [{ type: 'text', text: 'plain' }] });
  });
});

describe('onlyToolRequests (which per-request servers may leave resources, prompts and completions out)', () => {
  it('only bodies made of tools/list and tools/call requests', () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami' } };
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    assert.equal(onlyToolRequests(call), true);
    assert.equal(onlyToolRequests([call, list]), true);
    for (const method of ['initialize', 'prompts/list', 'prompts/get', 'resources/read', 'completion/complete', 'ping'])
      assert.equal(onlyToolRequests({ jsonrpc: '2.0', id: 3, method }), false, method);
    assert.equal(onlyToolRequests([call, { jsonrpc: '2.0', id: 4, method: 'prompts/list' }]), false);
    for (const odd of [[], null, undefined, 'tools/call', { method: 1 }, [null]])
      assert.equal(onlyToolRequests(odd), false, JSON.stringify(odd));
  });
});

describe('metadata cache', () => {
  it('serves hits within the TTL, shares concurrent misses, evicts the least recently used, never caches failures', async () => {
    // Not 0: lru-cache reads a start time of 0 as "no TTL" (a real clock is never 0).
    let now = 1_000;
    const cache = createMetadataCache({ ttlMs: 1000, max: 2, now: () => now });
    let loads = 0;
    const load = (v: string) => () => {
      loads++;
      return Promise.resolve(v);
    };
    const [a, b] = await Promise.all([cache.get('k1', load('v1')), cache.get('k1', load('v1'))]);
    assert.deepEqual([a, b, loads], ['v1', 'v1', 1]);
    await cache.get('k2', load('v2'));
    await cache.get('k1', load('v1')); // k1 is now the most recently used
    await cache.get('k3', load('v3')); // evicts k2
    assert.equal(cache.size(), 2);
    loads = 0;
    await cache.get('k2', load('v2'));
    assert.equal(loads, 1, 'k2 was evicted');
    now = 6_000;
    await cache.get('k3', load('v3'));
    assert.equal(loads, 2, 'expired after the TTL');
    await assert.rejects(cache.get('bad', () => Promise.reject(new Error('vault down'))));
    assert.equal(await cache.get('bad', load('ok')), 'ok', 'a failure is not cached');
  });
});

describe('argument errors', () => {
  it('name each argument and what it must be, not the raw issue list of the schema library', () => {
    const schema = z.strictObject({
      id: z.number().int().positive(),
      scope: z.enum(['content', 'all']),
      page_size: z.number().max(200),
    });
    const input = { id: 'x', scope: 'everything', page_size: 500, pagesize: 1 };
    const r = schema.safeParse(input);
    assert.equal(
      describeIssues(r.error!.issues, input),
      `Invalid argument 'id': must be a number; 'scope': must be one of "content", "all"; 'page_size': must be at most 200; unknown argument 'pagesize'`,
    );
    const missing = schema.safeParse({ scope: 'all', page_size: 1 });
    assert.equal(describeIssues(missing.error!.issues, {}), `Invalid argument 'id': required (number)`);
  });
});

describe('documents_lifecycle_run confirms through MCP elicitation when the client supports it', () => {
  let sim: VaultSimulator;
  let sessions: SessionManager;
  let answer: { action: 'accept' | 'decline'; content?: { confirm: boolean } };
  let asked: string[];
  let client: Client;

  before(async () => {
    sim = await startVaultSimulator();
    const tenant = makeTenant(sim.url, SA_AUTH);
    sessions = createSessionManager({
      store: createMemorySessionStore(),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
    const { tools, surface } = createVaultMcp({ sessions });
    const server = createMcpServer({ tools, scopes: ['vault:read', 'vault:write'], surface });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    // As in stdio mode: every message carries the local user's context.
    const t = serverSide as Transport;
    const onmessage = t.onmessage!;
    const authInfo = toAuthInfo(ctxFor(tenant, QA_MANAGER, ['vault:read', 'vault:write']));
    t.onmessage = (message, extra) => onmessage(message, { ...extra, authInfo });
    client = new Client({ name: 'elicit-test', version: '0' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params.message);
      return answer;
    });
    await client.connect(clientSide);
  });
  after(async () => {
    await client?.close();
    await sessions?.close();
    await sim?.close();
  });

  const run = async () =>
    (
      (await client.callTool({
        name: 'documents_lifecycle_run',
        arguments: { id: 103, action: 'approve__c' },
      })) as unknown as {
        structuredContent: Record<string, unknown>;
      }
    ).structuredContent;
  const status = async () =>
    (
      (await client.callTool({ name: 'documents_get', arguments: { id: 103 } })) as unknown as {
        structuredContent: { document: { status__v: string } };
      }
    ).structuredContent.document.status__v;

  it('a declined confirmation changes nothing; an accepted one runs the action', async () => {
    asked = [];
    answer = { action: 'decline' };
    assert.deepEqual(await run(), {
      id: 103,
      version: '0.1',
      action: 'approve__c',
      label: 'Approve',
      status: 'cancelled',
      message: 'The user declined.',
    });
    assert.equal(await status(), 'Draft');
    answer = { action: 'accept', content: { confirm: true } };
    assert.equal((await run()).status, 'done');
    assert.equal(await status(), 'Approved');
    assert.deepEqual(asked, [
      'Run "Approve" (approve__c) on document 103 version 0.1?',
      'Run "Approve" (approve__c) on document 103 version 0.1?',
    ]);
  });
});
