/**
 * Cache-hit Vault tool calls against a direct call to the simulator, side by side in one run:
 *
 * - `direct client.query`: the Vault client with a session id held by the caller (the floor);
 * - `withSession only`: the session manager's cache-hit path with no Vault call (its own overhead);
 * - `documents_query tool (cache hit)`: the tool handler: input → safe VQL → session (cached) → Vault;
 * - `vql_query tool (cache hit)`;
 * - the issue-13 read tools on the same path: `documents_search`, `documents_read_text` (explicit
 *   version, and latest version, which costs one more Vault call to learn the version),
 *   `documents_audit_trail`, `objects_get`, `workflows_get_task`, `metadata_document_types` (cache hit).
 *
 * The ratio to read for "per call" cost is each tool's throughput over `documents_query`'s.
 *
 * The session is logged in once before measuring; the simulator's login counter proves every
 * measured call was a cache hit.
 */
import assert from 'node:assert/strict';
import { z } from 'zod';
import { startVaultSimulator } from '../src/dev/vault-sim/server.js';
import { SERVICE_ACCOUNT } from '../src/dev/vault-sim/seed.js';
import { createVaultTools } from '../src/mcp/tools/index.js';
import { createVaultClient } from '../src/vault/client.js';
import { createSessionCipher } from '../src/vault/crypto.js';
import { createSessionManager } from '../src/vault/session-manager.js';
import { createPgSessionStore } from '../src/vault/session-store-pg.js';
import {
  createTenantDb,
  ctxFor,
  makeTenant,
  provisionTenant,
  SA_AUTH,
  SIM_SECRETS,
  TEST_SECRET_KEY,
} from '../test/helpers/vault.js';
import { measure, printTable } from './lib.js';

export default async function run(): Promise<void> {
  // A burst limit the bench cannot reach: we measure our overhead, not Vault throttling.
  const sim = await startVaultSimulator({ burstLimit: 1_000_000_000 });
  const env = await createTenantDb();
  try {
    const tenant = makeTenant(sim.url, SA_AUTH);
    await provisionTenant(env.pool, tenant);
    const sessions = createSessionManager({
      store: createPgSessionStore({ pool: env.pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
    const tools = createVaultTools({ sessions });
    const ctx = ctxFor(tenant, 'qa.manager@acme.com', ['vault:read', 'vault:vql']);
    const docsQuery = tools.find((t) => t.name === 'documents_query')!;
    const vqlQuery = tools.find((t) => t.name === 'vql_query')!;
    const docsArgs = z.object(docsQuery.input).parse({ status: ['Effective'], page_size: 25 });
    const vqlArgs = z
      .object(vqlQuery.input)
      .parse({ q: "SELECT id, name__v FROM documents WHERE status__v = 'Effective'" });

    const client = createVaultClient({ url: sim.url, apiVersion: 'v25.2', clientId: 'bench' });
    const { sessionId } = await client.auth(SERVICE_ACCOUNT, SIM_SECRETS.ACME_VAULT_PASSWORD!);
    await sessions.withSession(ctx, () => Promise.resolve(undefined)); // log in once, before measuring
    sim.resetCounters();

    const opts = { concurrency: 16, durationMs: 2000, warmupMs: 500 };
    const direct = async () =>
      void (await client.query(sessionId, "SELECT id, name__v FROM documents WHERE status__v = 'Effective'"));
    // Warm the simulator and the JIT first, so the baseline is not penalised for running first.
    await measure('warm-up', direct, { ...opts, durationMs: 1500 });
    const rows = [
      await measure('direct client.query', direct, opts),
      await measure(
        'withSession only (no Vault call)',
        async () => void (await sessions.withSession(ctx, () => Promise.resolve(undefined))),
        opts,
      ),
      await measure('documents_query tool (cache hit)', async () => void (await docsQuery.run(docsArgs, ctx)), opts),
      await measure('vql_query tool (cache hit)', async () => void (await vqlQuery.run(vqlArgs, ctx)), opts),
    ];
    const readTool = (name: string, args: Record<string, unknown>) => {
      const t = tools.find((x) => x.name === name)!;
      const parsed = z.object(t.input).parse(args);
      return () => t.run(parsed as never, ctx).then(() => undefined);
    };
    const read: [string, () => Promise<void>][] = [
      ['documents_search', readTool('documents_search', { text: 'sterilisation' })],
      ['documents_read_text (version)', readTool('documents_read_text', { id: 101, version: '1.0' })],
      ['documents_read_text (latest)', readTool('documents_read_text', { id: 101 })],
      ['documents_audit_trail', readTool('documents_audit_trail', { id: 101 })],
      ['objects_get', readTool('objects_get', { object: 'deviation__c', id: 'V0D000000000201' })],
      ['workflows_get_task', readTool('workflows_get_task', { id: 7201 })],
      ['metadata_document_types (cached)', readTool('metadata_document_types', {})],
    ];
    for (const [name, fn] of read) rows.push(await measure(name, fn, opts));
    printTable(rows, rows[0]);
    const docsQueryRow = rows.find((r) => r.name.startsWith('documents_query'))!;
    console.log('\nper call vs documents_query (throughput ratio; 1.00 = same cost, < 0.90 = over 10% slower):');
    for (const r of rows.slice(4)) console.log(`  ${r.name.padEnd(34)} ${(r.rps / docsQueryRow.rps).toFixed(2)}`);
    assert.equal(sim.loginsFor(SERVICE_ACCOUNT), 0, 'every measured call must be a cache hit');
    console.log(`logins during measurement: ${sim.loginsFor(SERVICE_ACCOUNT)} (all calls were cache hits)`);
    await sessions.close();
  } finally {
    await env.close();
    await sim.close();
  }
}
