/**
 * The Vault tools end to end through the real server (start(): TENANTS_FILE, tenant resolution,
 * session manager with the Postgres store) with the SDK client over HTTP, each tenant on its own
 * Vault simulator: per-user visibility in delegated mode, one shared login in service_account mode,
 * an unset password variable, Vault failures as tool errors, and single-flight logins under load.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT, SIM_PASSWORD } from '../../src/dev/vault-sim/seed.js';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { canarySeed } from '../helpers/vault.js';

/** Tool answers are JSON the tests read freely. */
type J = ReturnType<typeof JSON.parse>;

type ToolResult = {
  isError?: boolean;
  content: { type: string; text: string }[];
  structuredContent?: Record<string, J>;
};

const BURST_PASSWORD = 'burst-password';

describe('Vault tools through the real server (SDK client, real HTTP, real Postgres, simulators)', () => {
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  /** acme.com: delegated. */
  let simAcme: VaultSimulator;
  /** globex.com: service_account; initech.com: service_account whose password variable is unset. */
  let simGlobex: VaultSimulator;
  /** umbrella.com: delegated, only used by the concurrency test (first calls must really be first). */
  let simBurst: VaultSimulator;
  const clients: Client[] = [];

  const connect = async (email: string, scope = 'vault:read', sub = email) => {
    const c = await connectClient(s.url, await s.token({ sub, email, scope }));
    clients.push(c);
    return c;
  };
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) =>
    (await c.callTool({ name, arguments: args })) as ToolResult;

  before(async () => {
    simAcme = await startVaultSimulator();
    simGlobex = await startVaultSimulator();
    simBurst = await startVaultSimulator({
      seed: canarySeed({
        mark: 'BURST',
        domain: 'umbrella.com',
        password: BURST_PASSWORD,
        docId: 7_800_001,
        recordId: 'V0D00000000U901',
      }),
    });
    const sa = (url: string, passwordEnv: string) => ({
      url,
      apiVersion: 'v25.2',
      auth: { mode: 'service_account', username: SERVICE_ACCOUNT, passwordEnv },
    });
    file = await writeTenantsFile({
      tenants: [
        {
          id: 'acme',
          domains: ['acme.com'],
          vault: {
            url: simAcme.url,
            auth: { mode: 'delegated', username: SERVICE_ACCOUNT, passwordEnv: 'ACME_VAULT_PASSWORD' },
          },
        },
        { id: 'globex', domains: ['globex.com'], vault: sa(simGlobex.url, 'GLOBEX_VAULT_PASSWORD') },
        { id: 'initech', domains: ['initech.com'], vault: sa(simGlobex.url, 'INITECH_VAULT_PASSWORD') },
        {
          id: 'umbrella',
          domains: ['umbrella.com'],
          vault: {
            url: simBurst.url,
            auth: { mode: 'delegated', username: 'integration@umbrella.com', passwordEnv: 'UMBRELLA_VAULT_PASSWORD' },
          },
        },
      ],
    });
    s = await startTestServer(
      // The concurrency test sends 500 calls for one tenant at once: above the default per-tenant burst.
      { TENANTS_FILE: file.file, RATE_LIMIT_BURST: '2000' },
      // INITECH_VAULT_PASSWORD is deliberately missing.
      {
        secrets: {
          ACME_VAULT_PASSWORD: SIM_PASSWORD,
          GLOBEX_VAULT_PASSWORD: SIM_PASSWORD,
          UMBRELLA_VAULT_PASSWORD: BURST_PASSWORD,
        },
      },
    );
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await s?.close();
    await file?.remove();
    for (const sim of [simAcme, simGlobex, simBurst]) await sim?.close();
  });

  it('tools/list shows only what the scopes allow', async () => {
    const read = await connect(QA_MANAGER, 'vault:read');
    const readTools = [
      'documents_audit_trail',
      'documents_get',
      'documents_lifecycle_actions',
      'documents_query',
      'documents_read_text',
      'documents_search',
      'metadata_document_fields',
      'metadata_document_types',
      'metadata_object_fields',
      'metadata_objects',
      'objects_get',
      'objects_query',
      'picklists_get',
      'whoami',
      'workflows_get_task',
      'workflows_get_tasks',
    ];
    assert.deepEqual((await read.listTools()).tools.map((t) => t.name).sort(), readTools);
    const all = await connect(QA_MANAGER, 'vault:read vault:vql vault:write');
    assert.deepEqual(
      (await all.listTools()).tools.map((t) => t.name).sort(),
      [...readTools, 'documents_lifecycle_run', 'documents_update', 'vql_query'].sort(),
    );
  });

  it('delegated: the QA manager and the QA specialist see different documents, tasks and records, as their own Vault users', async () => {
    const mgr = await connect(QA_MANAGER);
    const spec = await connect(QA_SPECIALIST);
    const ids = async (c: Client) =>
      toolJson(await call(c, 'documents_query', { order_by: 'id', page_size: 50 })).documents.map((d: J) => d.id);
    assert.deepEqual(await ids(mgr), [101, 102, 103, 104, 105, 106, 107, 108]);
    assert.deepEqual(await ids(spec), [101, 103, 106, 107]);
    // A document the specialist cannot see is an error for him and data for the manager.
    assert.equal(toolJson(await call(mgr, 'documents_get', { id: 102 })).document.name__v, 'SOP CAPA Process');
    const hidden = await call(spec, 'documents_get', { id: 102 });
    assert.equal(hidden.isError, true);
    assert.match(hidden.content[0]!.text, /^ERR_VAULT_INVALID_REQUEST: Vault INVALID_DATA: /);
    assert.deepEqual(
      toolJson(await call(spec, 'workflows_get_tasks')).tasks.map((t: J) => t.id),
      [7202],
    );
    assert.deepEqual(
      toolJson(await call(mgr, 'workflows_get_tasks', { status: ['available__v'] })).tasks.map((t: J) => t.id),
      [7201],
    );
    const devs = async (c: Client) =>
      toolJson(await call(c, 'objects_query', { object: 'deviation__c', order_by: 'name__v' })).records.map(
        (r: J) => r.name__v,
      );
    assert.deepEqual(await devs(spec), ['DEV-2026-001']);
    assert.deepEqual(await devs(mgr), ['DEV-2026-001', 'DEV-2026-002', 'DEV-2026-003']);
    const me = toolJson(await call(spec, 'whoami'));
    assert.equal(me.user, QA_SPECIALIST);
    assert.equal(me.tenant, 'acme');
    assert.deepEqual(me.vaultUser, {
      id: '1002',
      username: QA_SPECIALIST,
      email: QA_SPECIALIST,
      mode: 'delegated',
      vault: simAcme.url,
    });
    assert.equal(simAcme.counters.delegatedLogins[QA_MANAGER], 1);
    assert.equal(simAcme.counters.delegatedLogins[QA_SPECIALIST], 1);
    assert.equal(simAcme.counters.logins[SERVICE_ACCOUNT], 1);
  });

  it('service_account: two users of the tenant share one Vault login; whoami names each real user and the Vault user', async () => {
    const before = simGlobex.loginsFor(SERVICE_ACCOUNT);
    const alice = await connect('alice@globex.com', 'vault:read', 'alice');
    const bob = await connect('bob@globex.com', 'vault:read', 'bob');
    const [a, b] = [toolJson(await call(alice, 'whoami')), toolJson(await call(bob, 'whoami'))];
    assert.equal(a.user, 'alice@globex.com');
    assert.equal(b.user, 'bob@globex.com');
    assert.notEqual(a.subject, b.subject);
    for (const w of [a, b]) {
      assert.equal(w.tenant, 'globex');
      assert.deepEqual(w.vaultUser, {
        id: '9000',
        username: SERVICE_ACCOUNT,
        email: SERVICE_ACCOUNT,
        mode: 'service_account',
        vault: simGlobex.url,
      });
    }
    // Both see what the service account sees.
    for (const c of [alice, bob]) assert.equal(toolJson(await call(c, 'documents_query', { page_size: 50 })).total, 8);
    assert.equal(simGlobex.loginsFor(SERVICE_ACCOUNT) - before, 1);
  });

  it('an unset Vault password variable is a clear tool error naming the config key; Vault is not called', async () => {
    const c = await connect('carol@initech.com');
    const requests = simGlobex.counters.requests;
    const r = await call(c, 'documents_query');
    assert.equal(r.isError, true);
    assert.equal(
      r.content[0]!.text,
      'ERR_VAULT_AUTH: Tenant initech: the environment variable INITECH_VAULT_PASSWORD (vault.auth.passwordEnv) is not set',
    );
    // whoami still answers, reporting the Vault problem.
    const me = toolJson(await call(c, 'whoami'));
    assert.equal(me.tenant, 'initech');
    assert.match(me.vaultUser.error, /INITECH_VAULT_PASSWORD \(vault\.auth\.passwordEnv\)/);
    assert.equal(simGlobex.counters.requests, requests);
  });

  it("Vault failures come back as tool errors carrying Vault's type and message", async () => {
    const spec = await connect(QA_SPECIALIST, 'vault:read vault:vql vault:write');
    const denied = await call(spec, 'documents_update', { id: 101, fields: { title__v: 'Hacked' } });
    assert.equal(denied.isError, true);
    assert.equal(
      denied.content[0]!.text,
      'ERR_VAULT_ACCESS: Vault INSUFFICIENT_ACCESS: User [1002] does not have permission to edit document [101]',
    );
    const syntax = await call(spec, 'vql_query', { q: 'SELECT nope__v FROM documents' });
    assert.equal(syntax.isError, true);
    assert.match(syntax.content[0]!.text, /^ERR_VAULT_INVALID_REQUEST: Vault INCORRECT_QUERY_SYNTAX_ERROR: .*nope__v/);
    // Any Vault error type, even one we have no finer code for, keeps its type and message.
    simAcme.setFault({
      kind: 'failure',
      times: 1,
      type: 'RACE_CONDITION',
      message: 'Another operation is modifying this record; try again.',
    });
    const race = await call(spec, 'documents_query');
    assert.equal(race.isError, true);
    assert.equal(
      race.content[0]!.text,
      'ERR_VAULT: Vault RACE_CONDITION: Another operation is modifying this record; try again.',
    );
    // The manager may edit: the same write succeeds for him.
    const mgr = await connect(QA_MANAGER, 'vault:read vault:write');
    assert.deepEqual(
      toolJson(await call(mgr, 'documents_update', { id: 101, fields: { title__v: 'SOP Deviation Management (rev)' } }))
        .updated,
      { id: 101 },
    );
    assert.equal(
      toolJson(await call(spec, 'documents_get', { id: 101 })).document.title__v,
      'SOP Deviation Management (rev)',
    );
  });

  it('bad input is refused by the tool schema without calling Vault', async () => {
    const c = await connect(QA_MANAGER);
    const before = simAcme.counters.requests;
    const r = await call(c, 'documents_get', { id: -1 });
    assert.equal(r.isError, true);
    assert.equal(simAcme.counters.requests, before);
  });

  it('500 concurrent first calls of one user over HTTP: exactly one Vault login (service account) and one delegated login', async () => {
    // 500 calls through one SDK client with at most 50 in flight (a realistic load for a 2-core box).
    // The simulator holds its first answer (the service-account login) for 300 ms, so the first 50
    // calls all arrive while no session exists yet: they are simultaneous first calls, and must share
    // one login, one user lookup and one delegated login (in-process single flight + advisory lock).
    const c = await connect('qa.manager@umbrella.com', 'vault:read', 'umbrella-manager');
    simBurst.resetCounters();
    simBurst.setFault({ kind: 'delay', times: 1, ms: 300 });
    let next = 0;
    let inFlightAtFirstAnswer = -1;
    let inFlight = 0;
    const totals: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 500) {
          next++;
          inFlight++;
          const r = await call(c, 'documents_query', { page_size: 1 });
          if (inFlightAtFirstAnswer < 0) inFlightAtFirstAnswer = inFlight;
          inFlight--;
          assert.notEqual(r.isError, true, r.content[0]?.text);
          totals.push(r.structuredContent!.total);
        }
      }),
    );
    assert.equal(totals.length, 500);
    assert.ok(
      totals.every((t) => t === 9),
      'every call saw the same 9 documents',
    );
    assert.equal(inFlightAtFirstAnswer, 50, 'all 50 first calls were in flight before any answered');
    assert.deepEqual(simBurst.counters.logins, { 'integration@umbrella.com': 1 });
    assert.deepEqual(simBurst.counters.delegatedLogins, { 'qa.manager@umbrella.com': 1 });
    assert.equal(simBurst.counters.failedLogins, 0);
  });
});
