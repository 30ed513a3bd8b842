/**
 * The Vault tool handlers called directly (inputs parsed by their zod schemas, as the SDK does) against
 * a delegated tenant on the simulator. The same tools through the real server over HTTP:
 * test/http/vault-tools.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST } from '../../src/dev/vault-sim/seed.js';
import { isAppError } from '../../src/errors/index.js';
import { createVaultTools } from '../../src/mcp/tools/index.js';
import type { ToolDef } from '../../src/mcp/tool.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { createSessionManager, type SessionManager } from '../../src/vault/session-manager.js';
import { createPgSessionStore } from '../../src/vault/session-store-pg.js';
import {
  createTenantDb,
  ctxFor,
  DELEGATED_AUTH,
  makeTenant,
  provisionTenant,
  SIM_SECRETS,
  TEST_SECRET_KEY,
} from '../helpers/vault.js';

describe('Vault tools (delegated tenant, real Postgres, simulator)', () => {
  let sim: VaultSimulator;
  let env: Awaited<ReturnType<typeof createTenantDb>>;
  let tenant: Tenant;
  let sessions: SessionManager;
  let tools: ToolDef[];
  const tool = (name: string) => tools.find((t) => t.name === name)!;
  const run = async (
    name: string,
    args: Record<string, unknown>,
    email = QA_MANAGER,
    scopes = ['vault:read', 'vault:vql', 'vault:write'],
  ) =>
    // Parse the input as the SDK does over MCP (zod defaults applied), then call the handler.
    tool(name)
      .run(z.object(tool(name).input).parse(args) as never, ctxFor(tenant, email, scopes))
      .then((out) => out.value as any);

  before(async () => {
    sim = await startVaultSimulator();
    env = await createTenantDb();
    tenant = makeTenant(sim.url, DELEGATED_AUTH);
    await provisionTenant(env.pool, tenant);
    sessions = createSessionManager({
      store: createPgSessionStore({ pool: env.pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
    tools = createVaultTools({ sessions });
  });
  after(async () => {
    await sessions?.close();
    await env?.close();
    await sim?.close();
  });

  it('documents_query: two users see different documents', async () => {
    const mgr = await run('documents_query', { page_size: 50, order_by: 'id' }, QA_MANAGER);
    const spec = await run('documents_query', { page_size: 50, order_by: 'id' }, QA_SPECIALIST);
    assert.equal(mgr.total, 8);
    assert.deepEqual(
      spec.documents.map((d: any) => d.id),
      [101, 103, 106, 107],
    );
  });

  it('documents_query: filters are escaped, status IN works, pagination continues', async () => {
    const r = await run('documents_query', { name_contains: "O'Brien", page_size: 10 });
    assert.deepEqual(
      r.documents.map((d: any) => d.id),
      [104],
    );
    const inj = await run('documents_query', { name_contains: "x' OR name__v != '", page_size: 10 });
    assert.equal(inj.total, 0);
    const eff = await run('documents_query', { status: ['Effective', 'Approved'], order_by: 'id', page_size: 2 });
    assert.equal(eff.total, 5);
    assert.ok(eff.next_page);
    const more = await run('documents_query', { next_page: eff.next_page });
    assert.deepEqual(
      more.documents.map((d: any) => d.id),
      [104, 106],
    );
    await assert.rejects(run('documents_query', { next_page: 'https://evil.example/x' }), z.ZodError);
  });

  it('documents_get: a hidden document is a Vault error, not data', async () => {
    const ok = await run('documents_get', { id: 102 }, QA_MANAGER);
    assert.equal(ok.document.name__v, 'SOP CAPA Process');
    await assert.rejects(
      run('documents_get', { id: 102 }, QA_SPECIALIST),
      (e: unknown) =>
        isAppError(e) && e.code === 'ERR_VAULT_INVALID_REQUEST' && /^Vault INVALID_DATA: /.test(e.message),
    );
  });

  it('vql_query: SELECT only, checked before Vault is called; pages are followed and capped', async () => {
    const before = sim.counters.requests;
    for (const q of [
      'DELETE FROM documents',
      'SELECT id FROM documents; SELECT id FROM users',
      'UPDATE documents SET x = 1',
      '  ',
    ]) {
      await assert.rejects(
        run('vql_query', { q, max_rows: 10 }),
        (e: unknown) => isAppError(e) && e.code === 'ERR_VQL_REJECTED',
      );
    }
    assert.equal(sim.counters.requests, before);
    const r = await run('vql_query', {
      q: "SELECT id, name__v FROM documents WHERE name__v LIKE '%;%' OR id > 0 ORDER BY id PAGESIZE 3",
      max_rows: 5,
    });
    assert.equal(r.total, 8);
    assert.deepEqual(
      r.rows.map((x: any) => x.id),
      [101, 102, 103, 104, 105],
    );
    const rest = await run('vql_query', { q: 'ignored', next_page: r.next_page, max_rows: 10 });
    assert.deepEqual(
      rest.rows.map((x: any) => x.id),
      [106, 107, 108],
    );
    await assert.rejects(
      run('vql_query', { q: 'SELECT nope__v FROM documents' }),
      (e: unknown) => isAppError(e) && /INCORRECT_QUERY_SYNTAX_ERROR/.test(e.message),
    );
  });

  it('objects_query: per-user records, names validated, values escaped', async () => {
    const spec = await run(
      'objects_query',
      { object: 'deviation__c', fields: ['id', 'name__v', 'site__c'] },
      QA_SPECIALIST,
    );
    assert.deepEqual(
      spec.records.map((r: any) => r.name__v),
      ['DEV-2026-001'],
    );
    const open = await run('objects_query', {
      object: 'deviation__c',
      filters: [{ field: 'status__v', op: '=', value: 'open__c' }],
      order_by: 'name__v',
    });
    assert.deepEqual(
      open.records.map((r: any) => r.name__v),
      ['DEV-2026-001', 'DEV-2026-003'],
    );
    await assert.rejects(run('objects_query', { object: 'deviation__c', fields: ['id FROM users --'] }), z.ZodError);
    // Past the schema, buildVql refuses bad names too (defence in depth for other callers).
    await assert.rejects(
      tool('objects_query').run(
        { object: 'deviation__c', fields: ['id FROM users'], filters: [], page_size: 5, descending: false },
        ctxFor(tenant, QA_MANAGER),
      ),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VQL_REJECTED',
    );
  });

  it('workflows_get_tasks: my tasks follow my Vault identity', async () => {
    const mine = await run('workflows_get_tasks', {}, QA_SPECIALIST);
    assert.deepEqual(
      mine.tasks.map((t: any) => t.id),
      [7202],
    );
    const mgr = await run('workflows_get_tasks', { status: ['available__v'] }, QA_MANAGER);
    assert.deepEqual(
      mgr.tasks.map((t: any) => t.id),
      [7201],
    );
    const onRecord = await run(
      'workflows_get_tasks',
      { object: 'deviation__c', record_id: 'V0D000000000201' },
      QA_MANAGER,
    );
    assert.deepEqual(onRecord.tasks.map((t: any) => t.id).sort(), [7201, 7202]);
  });

  it('documents_update: Vault decides who may edit', async () => {
    await assert.rejects(
      run('documents_update', { id: 101, fields: { title__v: 'Hacked' } }, QA_SPECIALIST),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_ACCESS' && /INSUFFICIENT_ACCESS/.test(e.message),
    );
    const r = await run(
      'documents_update',
      { id: 101, fields: { title__v: 'SOP Deviation Management (rev)' } },
      QA_MANAGER,
    );
    assert.deepEqual(r.updated, { id: 101 });
    const doc = await run('documents_get', { id: 101 });
    assert.equal(doc.document.title__v, 'SOP Deviation Management (rev)');
  });

  it('whoami names the Vault user', async () => {
    const me = await run('whoami', {}, QA_SPECIALIST);
    assert.equal(me.tenant, 'acme');
    assert.deepEqual(me.vaultUser, {
      id: '1002',
      username: QA_SPECIALIST,
      email: QA_SPECIALIST,
      mode: 'delegated',
      vault: tenant.vault.url,
    });
  });

  it('a tool call without a tenant returns a clear error', async () => {
    await assert.rejects(
      tool('documents_query').run({ page_size: 5 }, ctxFor(undefined, QA_MANAGER)),
      (e: unknown) => isAppError(e) && e.code === 'ERR_TENANT_NOT_FOUND',
    );
  });
});
