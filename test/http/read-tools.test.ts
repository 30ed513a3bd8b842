/**
 * The issue-13 tools and MCP surface through the real server with the SDK client, against the Vault
 * simulator (delegated tenant, so each user acts as their own Vault user): the user story end to end,
 * then per tool success, Vault errors, pagination, scope rules and bad arguments; resources, prompts,
 * completions, progress notifications, clean validation errors and the audit rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST } from '../../src/dev/vault-sim/seed.js';
import { connectClient, postToolCall } from '../helpers/mcp.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { existingTenant } from '../helpers/tenant-fixture.js';
import { SIM_SECRETS } from '../helpers/vault.js';

/** Tool answers are JSON the tests read freely. */
type J = ReturnType<typeof JSON.parse>;

type Result = {
  isError?: boolean;
  content: { type: string; text: string }[];
  structuredContent?: Record<string, J>;
};

describe('Read tools, lifecycle actions, resources, prompts and completions (SDK client, real server, simulator)', () => {
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let s: TestServer;
  let pool: Pool;
  const clients: Client[] = [];
  let mgr: Client;
  let spec: Client;

  const connect = async (email: string, scope = 'vault:read') => {
    const c = await connectClient(s.url, await s.token({ sub: `${email}|${scope}`, email, scope }));
    clients.push(c);
    return c;
  };
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) =>
    (await c.callTool({ name, arguments: args })) as Result;
  const ok = async (c: Client, name: string, args: Record<string, unknown> = {}) => {
    const r = await call(c, name, args);
    assert.ok(!r.isError, `${name} failed: ${r.content[0]?.text}`);
    assert.deepEqual(JSON.parse(r.content[0]!.text), r.structuredContent, 'text and structured content agree');
    return r.structuredContent!;
  };
  const toolError = async (c: Client, name: string, args: Record<string, unknown>, re: RegExp) => {
    const r = await call(c, name, args);
    assert.equal(r.isError, true, `${name} should fail`);
    assert.match(r.content[0]!.text, re);
    return r.content[0]!.text;
  };

  before(async () => {
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    s = await startTestServer({ TENANTS_FILE: tenantsFile.file, RATE_LIMIT_PER_MINUTE: '0' }, { secrets: SIM_SECRETS });
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
    mgr = await connect(QA_MANAGER, 'vault:read vault:write vault:vql');
    spec = await connect(QA_SPECIALIST, 'vault:read vault:write');
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await pool?.end();
    await s?.close();
    await tenantsFile?.remove();
    await sim?.close();
  });

  it('the user story: find the SOPs that mention sterilisation, read the current one, who approved it, my open tasks', async () => {
    const found = await ok(mgr, 'documents_search', { text: 'sterilisation', type: 'SOP' });
    assert.deepEqual(
      found.documents.map((d: J) => [d.id, d.status__v]),
      [
        [101, 'Effective'],
        [108, 'Superseded'],
      ],
      'both SOPs, the one mentioning it most first',
    );
    const current = found.documents.find((d: J) => d.status__v === 'Effective');
    const text = await ok(mgr, 'documents_read_text', { id: current.id });
    assert.equal(text.version, '1.0');
    assert.match(text.text, /Sterilisation failures \(autoclave cycle out of limits\) are always major deviations/);
    assert.equal(text.next_offset, null);
    assert.equal(text.total_chars, text.text.length);
    const trail = await ok(mgr, 'documents_audit_trail', { id: current.id, events: ['TaskCompletion'] });
    const approval = trail.entries.find((e: J) => e.signature_meaning === 'Approval');
    assert.equal(approval.user_name, QA_MANAGER);
    assert.equal(approval.full_name, 'Quinn Manager');
    assert.equal(approval.timestamp, '2026-02-27T16:10:00Z');
    const tasks = await ok(mgr, 'workflows_get_tasks', { status: ['available__v'] });
    assert.deepEqual(
      tasks.tasks.map((t: J) => t.id),
      [7201],
    );
    const task = await ok(mgr, 'workflows_get_task', { id: 7201 });
    assert.equal(task.task.instructions__v, 'Approve or reject the deviation.');
    const record = await ok(mgr, 'objects_get', { object: 'deviation__c', id: task.task.record_id__v });
    assert.equal(record.record.name__v, 'DEV-2026-001');
  });

  it('documents_search: per-user visibility, filters, scopes, ranking, paging, escaping, bad arguments', async () => {
    const specHits = await ok(spec, 'documents_search', { text: 'sterilisation' });
    assert.deepEqual(
      specHits.documents.map((d: J) => d.id),
      [101],
      'the specialist does not see the Singapore SOP',
    );
    const superseded = await ok(mgr, 'documents_search', { text: 'sterilisation', status: ['Superseded'] });
    assert.deepEqual(
      superseded.documents.map((d: J) => d.id),
      [108],
    );
    assert.equal((await ok(mgr, 'documents_search', { text: 'Cleanroom', scope: 'properties' })).total, 1);
    assert.equal((await ok(mgr, 'documents_search', { text: 'Cleanroom', scope: 'content' })).total, 1);
    assert.equal((await ok(mgr, 'documents_search', { text: 'autoclave', scope: 'properties' })).total, 0);
    const page1 = await ok(mgr, 'documents_search', { text: 'sterilisation', page_size: 1 });
    assert.equal(page1.total, 3);
    assert.ok(page1.next_page);
    const page2 = await ok(mgr, 'documents_search', { text: 'ignored', next_page: page1.next_page });
    assert.equal(page2.returned, 1);
    assert.notEqual(page2.documents[0].id, page1.documents[0].id);
    // A quote in the phrase cannot end the VQL string literal.
    assert.equal((await ok(mgr, 'documents_search', { text: "x') OR ('a" })).total, 0);
    await toolError(mgr, 'documents_search', { text: '' }, /^ERR_INVALID_ARGUMENT: Invalid argument 'text'/);
    await toolError(mgr, 'documents_search', { text: 'a', scope: 'everything' }, /'scope': must be one of/);
    await toolError(mgr, 'documents_search', { text: 'a', pagesize: 5 }, /unknown argument 'pagesize'/);
    await toolError(mgr, 'documents_search', { text: 'a', next_page: 'https://evil.example/x' }, /'next_page'/);
    // An absolute next_page passes the schema only with Vault's query path; the client then refuses a foreign host.
    await toolError(
      mgr,
      'documents_search',
      { text: 'a', next_page: 'https://evil.example/api/v25.2/query/0b4f8a6e-1c1e-4d0b-9a55-5e0f1b7d2c11?pagesize=1' },
      /ERR_VAULT_INVALID_REQUEST: Vault INVALID_PAGE_URL/,
    );
    sim.setFault({ kind: 'failure', times: 1, type: 'INCORRECT_QUERY_SYNTAX_ERROR', message: 'FIND is disabled' });
    await toolError(mgr, 'documents_search', { text: 'a' }, /Vault INCORRECT_QUERY_SYNTAX_ERROR: FIND is disabled/);
  });

  it('documents_read_text: pages by character offset, explicit versions, hidden documents, bad arguments', async () => {
    const first = await ok(mgr, 'documents_read_text', { id: 101, max_chars: 100 });
    assert.equal(first.returned_chars, 100);
    assert.equal(first.next_offset, 100);
    let all = first.text as string;
    for (let next = first.next_offset; next !== null;) {
      const page = await ok(mgr, 'documents_read_text', { id: 101, offset: next, max_chars: 100 });
      all += page.text;
      next = page.next_offset;
    }
    assert.equal(all.length, first.total_chars);
    assert.match(all, /^SOP Deviation Management\. 1\. Purpose/);
    await toolError(
      mgr,
      'documents_read_text',
      { id: 101, version: '0.1' },
      /ERR_VAULT_INVALID_REQUEST: Vault INVALID_DATA/,
    );
    await toolError(spec, 'documents_read_text', { id: 102 }, /INVALID_DATA: Invalid document id \[102\] or no access/);
    await toolError(mgr, 'documents_read_text', { id: 101, max_chars: 50 }, /'max_chars': must be at least 100/);
    await toolError(mgr, 'documents_read_text', { id: 'abc' }, /'id': must be a number/);
  });

  it('documents_audit_trail: newest first, paged by offset, filtered by date; hidden documents and bad dates', async () => {
    const p1 = await ok(mgr, 'documents_audit_trail', { id: 101, page_size: 4 });
    assert.equal(p1.total, 6);
    assert.equal(p1.next_offset, 4);
    assert.equal(p1.entries[0].action, 'ChangeState');
    const p2 = await ok(mgr, 'documents_audit_trail', { id: 101, page_size: 4, offset: 4 });
    assert.equal(p2.returned, 2);
    assert.equal(p2.next_offset, null);
    assert.equal(p2.entries.at(-1).event_description, 'Created document');
    const feb = await ok(mgr, 'documents_audit_trail', {
      id: 101,
      start_date: '2026-02-01T00:00:00Z',
      end_date: '2026-02-28T00:00:00Z',
    });
    assert.equal(feb.total, 3);
    await toolError(spec, 'documents_audit_trail', { id: 102 }, /INVALID_DATA/);
    await toolError(mgr, 'documents_audit_trail', { id: 101, start_date: 'yesterday' }, /'start_date'/);
  });

  it('lifecycle: actions per user; run needs confirmation, then changes the state; scope and permission rules', async () => {
    const mine = await ok(mgr, 'documents_lifecycle_actions', { id: 103 });
    assert.equal(mine.version, '0.1');
    assert.deepEqual(
      mine.actions.map((a: J) => [a.name, a.executable]),
      [
        ['start_review__c', true],
        ['approve__c', true],
      ],
    );
    const theirs = await ok(spec, 'documents_lifecycle_actions', { id: 103 });
    assert.ok(theirs.actions.every((a: J) => a.executable === false));
    await toolError(spec, 'documents_lifecycle_actions', { id: 105 }, /INVALID_DATA: Invalid document id \[105\]/);
    await toolError(mgr, 'documents_lifecycle_actions', { id: 103, version: 'latest' }, /'version'/);

    const before = sim.counters.requests;
    const asked = await ok(mgr, 'documents_lifecycle_run', { id: 103, action: 'approve__c' });
    assert.equal(asked.status, 'confirmation_required');
    assert.match(asked.message, /Run "Approve" \(approve__c\) on document 103 version 0\.1\? Nothing was changed/);
    assert.equal((await ok(mgr, 'documents_get', { id: 103 })).document.status__v, 'Draft');
    assert.ok(
      !sim.requests().some((r) => r.method === 'PUT'),
      'no write reached Vault before confirmation (recordRequests is off: counted below)',
    );
    assert.ok(sim.counters.requests - before <= 4);

    const refused = await ok(spec, 'documents_lifecycle_run', { id: 103, action: 'approve__c', confirm: true });
    assert.equal(refused.status, 'cancelled');
    assert.match(refused.message, /You may not run approve__c/);
    const unknown = await ok(mgr, 'documents_lifecycle_run', { id: 103, action: 'archive__c', confirm: true });
    assert.match(unknown.message, /No user action archive__c .* available: start_review__c, approve__c/);

    const done = await ok(mgr, 'documents_lifecycle_run', { id: 103, action: 'approve__c', confirm: true });
    assert.equal(done.status, 'done');
    const doc = (await ok(mgr, 'documents_get', { id: 103 })).document;
    assert.deepEqual([doc.status__v, doc.major_version_number__v, doc.minor_version_number__v], ['Approved', 1, 0]);
    const trail = await ok(mgr, 'documents_audit_trail', { id: 103, events: ['ChangeState'] });
    assert.equal(trail.entries[0].event_description, 'Changed state from Draft to Approved');
    assert.equal(trail.entries[0].user_name, QA_MANAGER);

    // A reader (no vault:write) does not see the write tool and is asked to step up when calling it.
    const reader = await s.token({ sub: 'reader', email: QA_MANAGER, scope: 'vault:read' });
    const stepUp = await postToolCall(s.url, reader, 'documents_lifecycle_run', { id: 103, action: 'x__c' });
    assert.equal(stepUp.status, 403);
    await toolError(
      mgr,
      'documents_lifecycle_run',
      { id: 103, action: 'Approve!' },
      /'action': must be a valid regex|'action'/,
    );
  });

  it('metadata tools: compact answers, cached per tenant and Vault user; picklists; Vault errors', async () => {
    const types = await ok(mgr, 'metadata_document_types');
    assert.deepEqual(types.types[0], { name: 'sop__c', label: 'SOP' });
    const fields = await ok(mgr, 'metadata_document_fields');
    assert.deepEqual(
      fields.fields.find((f: J) => f.name === 'site__c'),
      {
        name: 'site__c',
        label: 'Site',
        type: 'Picklist',
        required: false,
        repeating: false,
        queryable: true,
        editable: true,
        picklist: 'site__c',
      },
    );
    const objects = await ok(mgr, 'metadata_objects');
    assert.deepEqual(
      objects.objects.map((o: J) => o.name),
      ['product__v', 'deviation__c'],
    );
    const devFields = await ok(mgr, 'metadata_object_fields', { object: 'deviation__c' });
    assert.equal(devFields.fields.find((f: J) => f.name === 'severity__c').picklist, 'severity__c');
    const severity = await ok(mgr, 'picklists_get', { name: 'severity__c' });
    assert.deepEqual(
      severity.values.map((v: J) => v.name),
      ['minor__c', 'major__c', 'critical__c'],
    );
    const before = sim.counters.requests;
    await ok(mgr, 'metadata_document_types');
    await ok(mgr, 'picklists_get', { name: 'severity__c' });
    assert.equal(sim.counters.requests, before, 'served from the cache: no Vault call');
    await ok(spec, 'metadata_document_types');
    assert.ok(sim.counters.requests > before, 'another Vault user has their own cache entry');
    await toolError(mgr, 'picklists_get', { name: 'nope__c' }, /Vault INVALID_DATA: Invalid picklist name \[nope__c\]/);
    await toolError(mgr, 'metadata_object_fields', { object: 'Deviation' }, /'object'/);
  });

  it('objects_get and workflows_get_task: hidden records and tasks are Vault errors; bad ids are argument errors', async () => {
    const rec = await ok(mgr, 'objects_get', { object: 'deviation__c', id: 'V0D000000000203' });
    assert.equal(rec.label, 'Deviation');
    await toolError(spec, 'objects_get', { object: 'deviation__c', id: 'V0D000000000203' }, /INVALID_DATA/);
    await toolError(mgr, 'objects_get', { object: 'deviation__c', id: '../x' }, /'id'/);
    await toolError(spec, 'workflows_get_task', { id: 7203 }, /INVALID_DATA: Invalid task id \[7203\]/);
    await toolError(mgr, 'workflows_get_task', { id: 0 }, /'id'/);
    sim.setFault({ kind: 'failure', times: 1, type: 'INSUFFICIENT_ACCESS', message: 'no' });
    await toolError(mgr, 'workflows_get_task', { id: 7201 }, /^ERR_VAULT_ACCESS: Vault INSUFFICIENT_ACCESS: no/);
  });

  it('protocol errors are clean: non-object arguments and unknown tools are JSON-RPC -32602 naming the problem', async () => {
    const token = await s.token({ sub: 'raw', email: QA_MANAGER, scope: 'vault:read' });
    const post = async (params: unknown) => {
      const res = await fetch(`${s.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params }),
      });
      return (await res.json()) as { error?: { code: number; message: string } };
    };
    const notObject = await post({ name: 'documents_get', arguments: 'x' });
    assert.deepEqual(notObject.error, {
      code: -32602,
      message: "MCP error -32602: Invalid params: 'arguments' must be an object",
    });
    const unknown = await post({ name: 'documents_delete', arguments: {} });
    assert.equal(unknown.error?.code, -32602);
    assert.match(unknown.error.message, /Unknown tool "documents_delete"/);
  });

  it('resources: templates listed; documents and object records read as the caller, audited; hidden ones are errors', async () => {
    const templates = (await mgr.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort();
    assert.deepEqual(templates, ['vault://documents/{id}', 'vault://objects/{object}/{id}']);
    const doc = await mgr.readResource({ uri: 'vault://documents/101' });
    assert.equal(doc.contents[0]!.mimeType, 'application/json');
    assert.equal(JSON.parse((doc.contents[0] as { text: string }).text).document.name__v, 'SOP Deviation Management');
    assert.match((doc.contents[1] as { text: string }).text, /sterilisation/);
    const rec = await mgr.readResource({ uri: 'vault://objects/deviation__c/V0D000000000201' });
    assert.equal(JSON.parse((rec.contents[0] as { text: string }).text).record.name__v, 'DEV-2026-001');
    await assert.rejects(
      spec.readResource({ uri: 'vault://documents/102' }),
      /ERR_VAULT_INVALID_REQUEST: Vault INVALID_DATA/,
    );
    await assert.rejects(mgr.readResource({ uri: 'vault://documents/abc' }), /'id' must be a document id/);

    const t = await existingTenant(pool, 'acme');
    const { rows } = await withTenant(pool, t.schema, (tx) =>
      tx.query<{ tool: string; outcome: string; vault_user: string; details: J }>(
        "SELECT tool, outcome, vault_user, details FROM audit_log WHERE tool = 'resources/read' ORDER BY id",
      ),
    );
    assert.deepEqual(
      rows.slice(0, 3).map((r) => [r.outcome, r.vault_user, r.details.args.uri, r.details.objects]),
      [
        ['ok', QA_MANAGER, 'vault://documents/101', ['documents/101']],
        ['ok', QA_MANAGER, 'vault://objects/deviation__c/V0D000000000201', ['deviation__c/V0D000000000201']],
        ['error', QA_SPECIALIST, 'vault://documents/102', ['documents/102']],
      ],
    );
    const reads = await withTenant(pool, t.schema, (tx) =>
      tx.query<{ details: J }>("SELECT details FROM audit_log WHERE tool = 'documents_read_text' ORDER BY id LIMIT 1"),
    );
    assert.deepEqual(reads.rows[0]!.details.objects, ['documents/101/versions/1.0']);
  });

  it('prompts and completions: document types, objects, fields and picklist values', async () => {
    assert.deepEqual((await mgr.listPrompts()).prompts.map((p) => p.name).sort(), [
      'find_documents',
      'query_records',
      'review_document_history',
      'summarize_my_tasks',
    ]);
    const p = await mgr.getPrompt({ name: 'find_documents', arguments: { topic: 'sterilisation', type: 'SOP' } });
    assert.match((p.messages[0]!.content as { text: string }).text, /documents_search with text "sterilisation"/);
    const complete = async (ref: J, name: string, value: string, args?: Record<string, string>) =>
      (await mgr.complete({ ref, argument: { name, value }, ...(args ? { context: { arguments: args } } : {}) }))
        .completion.values;
    const prompt = (name: string) => ({ type: 'ref/prompt', name });
    assert.deepEqual(await complete(prompt('find_documents'), 'type', 's'), ['SOP']);
    assert.deepEqual(await complete(prompt('query_records'), 'object', 'dev'), ['deviation__c']);
    assert.deepEqual(await complete(prompt('query_records'), 'field', 'sev', { object: 'deviation__c' }), [
      'severity__c',
    ]);
    assert.deepEqual(
      await complete(prompt('query_records'), 'value', '', { object: 'deviation__c', field: 'severity__c' }),
      ['minor__c', 'major__c', 'critical__c'],
    );
    assert.deepEqual(await complete({ type: 'ref/resource', uri: 'vault://objects/{object}/{id}' }, 'object', 'prod'), [
      'product__v',
    ]);
    assert.deepEqual(await complete(prompt('nope'), 'x', 'y'), []);
    await assert.rejects(
      mgr.getPrompt({ name: 'review_document_history', arguments: { document_id: '1 OR 1=1' } }),
      /-32602.*a document id \(digits\) at document_id/,
    );
    // Without vault:read there is no resource, prompt or completion surface at all (fail closed).
    const none = await connect('qa.manager@acme.com', 'openid');
    await assert.rejects(none.readResource({ uri: 'vault://documents/101' }), /-32601|Method not found/);
    await assert.rejects(none.listPrompts(), /-32601|Method not found/);
  });

  it('progress notifications while vql_query pages through Vault (SSE answer when a progress token is sent)', async () => {
    const seen: { progress: number; total?: number }[] = [];
    const r = (await mgr.callTool(
      { name: 'vql_query', arguments: { q: 'SELECT id FROM documents ORDER BY id PAGESIZE 2', max_rows: 6 } },
      undefined,
      { onprogress: (p) => void seen.push({ progress: p.progress, total: p.total }) },
    )) as Result;
    assert.equal(r.structuredContent!.returned, 6);
    assert.deepEqual(seen, [
      { progress: 2, total: 6 },
      { progress: 4, total: 6 },
      { progress: 6, total: 6 },
    ]);
  });

  it('every tool is annotated, and every tool that returns records publishes an outputSchema', async () => {
    const { tools } = await mgr.listTools();
    for (const t of tools) {
      for (const k of ['title', 'readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'])
        assert.ok(t.annotations && k in t.annotations, `${t.name} lacks annotations.${k}`);
      if (t.name !== 'whoami') assert.equal(t.outputSchema?.type, 'object', `${t.name} lacks an outputSchema`);
      assert.equal(t.inputSchema.type, 'object');
    }
  });
});
