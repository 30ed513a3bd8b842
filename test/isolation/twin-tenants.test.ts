/**
 * Twin tenants end to end (TENANCY-NOTES A3.1): two tenants with identical setups and a unique canary
 * each; every tool is called as each tenant through the real MCP client, and the twin's canary, id and
 * schema never appear in results, errors or that tenant's log lines.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { parseSchemaName } from '../../src/db/schema-name.js';
import { connectClient, postToolCall } from '../helpers/mcp.js';
import { rng } from '../helpers/rng.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { canary, plantCanary, tenantInput } from '../helpers/tenants.js';
import { TWIN_TOOL_CALLS } from './twin-tool-calls.js';

interface Twin {
  id: string;
  email: string;
  schema: string;
  mark: string;
}

describe('twin tenants across every tool (SDK client, real HTTP, real Postgres)', () => {
  let s: TestServer;
  let pool: Pool;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  const logs: string[] = [];
  const twins: Twin[] = [
    { id: 'twin-a', email: 'qa@twin-a.com', schema: '', mark: canary('A') },
    { id: 'twin-b', email: 'qa@twin-b.com', schema: '', mark: canary('B') },
  ];

  before(async () => {
    file = await writeTenantsFile({ tenants: twins.map((t) => tenantInput(t.id, [t.email.split('@')[1]!])) });
    const logTo = new PassThrough();
    logTo.on('data', (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    // Pool of 2 and no tenant cache, so the interleaving test below really shares two connections.
    s = await startTestServer({ TENANTS_FILE: file.file, LOG_LEVEL: 'debug', DB_POOL_MAX: '2', TENANT_CACHE_TTL_MS: '0' }, { logTo });
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 10_000 });
    for (const t of twins) {
      const { rows } = await pool.query<{ schema_name: string }>('SELECT schema_name FROM control.tenants WHERE id = $1', [t.id]);
      t.schema = parseSchemaName(rows[0]!.schema_name);
      await plantCanary(pool, { id: t.id, schema: parseSchemaName(t.schema), created: false }, t.mark);
    }
  });
  after(async () => {
    await pool?.end();
    await s?.close();
    await file?.remove();
  });

  it('the replay list covers every tool the server offers', async () => {
    const client = await connectClient(s.url, await s.token({ email: twins[0]!.email, scope: 'vault:read vault:vql vault:write' }));
    const { tools } = await client.listTools();
    await client.close();
    const covered = new Set(TWIN_TOOL_CALLS.map((c) => c.name));
    assert.deepEqual(tools.map((t) => t.name).filter((n) => !covered.has(n)), [], 'add these tools to test/isolation/twin-tool-calls.ts');
  });

  for (const [me, other] of [[0, 1], [1, 0]] as const) {
    it(`as ${me ? 'twin-b' : 'twin-a'}: no trace of the twin in any result, error or log line`, async () => {
      const self = twins[me]!;
      const twin = twins[other]!;
      const client = await connectClient(s.url, await s.token({ sub: `user-${self.id}`, email: self.email, scope: 'vault:read vault:vql vault:write' }));
      const seen: string[] = [];
      const ctx = { mark: self.mark, otherMark: twin.mark };
      for (const call of TWIN_TOOL_CALLS) {
        try {
          seen.push(JSON.stringify(await client.callTool({ name: call.name, arguments: call.arguments(ctx) })));
        } catch (e) {
          seen.push(String((e as Error).message));
        }
      }
      await client.close();
      const whoami = seen[TWIN_TOOL_CALLS.findIndex((c) => c.name === 'whoami')]!;
      assert.ok(whoami.includes(`\\"tenant\\": \\"${self.id}\\"`), whoami);
      const all = seen.join('\n');
      for (const secret of [twin.mark, twin.id, twin.schema]) assert.ok(!all.includes(secret), `response leaked ${secret}`);
      const myLines = logs.filter((l) => l.includes(`"tenant":"${self.id}"`));
      assert.ok(myLines.length > 0, `no log line carries the tenant: ${logs.slice(-5).join("\n")}`);
      for (const l of myLines) {
        for (const secret of [twin.mark, twin.schema]) assert.ok(!l.includes(secret), `log leaked ${secret}: ${l}`);
        // No email local parts in logs (TENANCY-NOTES style rule 8).
        assert.ok(!l.includes(self.email), `log carries the email: ${l}`);
      }
    });
  }

  it('200 interleaved whoami calls of both tenants (server pool of 2): each answer names the caller\'s tenant', async () => {
    const tokens = await Promise.all(twins.map((t) => s.token({ sub: `user-${t.id}`, email: t.email })));
    const rand = rng(7);
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const i = rand() < 0.5 ? 0 : 1;
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 5)));
        const { body } = await postToolCall(s.url, tokens[i]!, 'whoami');
        return body.result?.structuredContent?.tenant === twins[i]!.id;
      }),
    );
    assert.equal(results.filter((ok) => !ok).length, 0);
  });

  it('the canaries are really there (the test above would pass vacuously otherwise)', async () => {
    for (const t of twins) {
      const c = await pool.connect();
      try {
        const { rows } = await c.query(`SELECT subject FROM ${pg.escapeIdentifier(t.schema)}.user_mappings`);
        assert.deepEqual(rows.map((r) => r.subject), [t.mark]);
      } finally {
        c.release();
      }
    }
  });
});
