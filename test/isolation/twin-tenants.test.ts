/**
 * Twin tenants end to end (TENANCY-NOTES A3.1): two tenants with identical setups (different email
 * domains, delegated Vault mode, each with its OWN Vault simulator and its own password secret) and a
 * unique canary each, planted in its database rows and in its Vault (every document name, a canary
 * document, a deviation record and a workflow task). Every tool is called as each tenant through the
 * real MCP client (real server from start(), real Postgres, TENANTS_FILE), and the twin's canary, ids,
 * tenant id, schema and Vault URL never appear in results, errors or that tenant's log lines; the
 * twin's document id answers "not found" exactly like an id that exists nowhere.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { parseSchemaName } from '../../src/db/schema-name.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { connectClient, postToolCall } from '../helpers/mcp.js';
import { rng } from '../helpers/rng.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { canary, plantCanary } from '../helpers/tenants.js';
import { canarySeed } from '../helpers/vault.js';
import { TWIN_TOOL_CALLS, type TwinContext } from './twin-tool-calls.js';

interface Twin {
  id: string;
  domain: string;
  email: string;
  schema: string;
  mark: string;
  docId: number;
  recordId: string;
  passwordEnv: string;
  password: string;
  sim?: VaultSimulator;
}

/** An id that exists in no Vault: the twin's ids must be answered exactly like it. */
const NOWHERE_DOC_ID = 9_999_001;
const NOWHERE_RECORD_ID = 'V0D00000000Z999';
const ALL_SCOPES = 'vault:read vault:vql vault:write';

const twin = (id: string, n: number): Twin => ({
  id,
  domain: `${id}.com`,
  email: `qa.manager@${id}.com`,
  schema: '',
  mark: canary(id.slice(-1).toUpperCase()),
  docId: 7_700_001 + n * 11_000,
  recordId: `V0D00000000${'AB'[n]}90${n}`,
  passwordEnv: `${id.toUpperCase().replace('-', '_')}_VAULT_PASSWORD`,
  password: `pw-${id}-${randomBytes(6).toString('hex')}`,
});

describe('twin tenants across every tool (SDK client, real HTTP, real Postgres)', () => {
  let s: TestServer;
  let pool: Pool;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  const logs: string[] = [];
  const twins: Twin[] = [twin('twin-a', 0), twin('twin-b', 1)];

  before(async () => {
    for (const t of twins) {
      t.sim = await startVaultSimulator({
        seed: canarySeed({
          mark: t.mark,
          domain: t.domain,
          password: t.password,
          docId: t.docId,
          recordId: t.recordId,
        }),
      });
    }
    file = await writeTenantsFile({
      tenants: twins.map((t) => ({
        id: t.id,
        domains: [t.domain],
        vault: {
          url: t.sim!.url,
          apiVersion: 'v25.2',
          auth: { mode: 'delegated', username: `integration@${t.domain}`, passwordEnv: t.passwordEnv },
        },
      })),
    });
    const logTo = new PassThrough();
    logTo.on('data', (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    // Pool of 2 and no tenant cache, so the interleaving test below really shares two connections.
    s = await startTestServer(
      { TENANTS_FILE: file.file, LOG_LEVEL: 'debug', DB_POOL_MAX: '2', TENANT_CACHE_TTL_MS: '0' },
      { logTo, secrets: Object.fromEntries(twins.map((t) => [t.passwordEnv, t.password])) },
    );
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 10_000 });
    for (const t of twins) {
      const { rows } = await pool.query<{ schema_name: string }>(
        'SELECT schema_name FROM control.tenants WHERE id = $1',
        [t.id],
      );
      t.schema = parseSchemaName(rows[0]!.schema_name);
      await plantCanary(pool, { id: t.id, schema: parseSchemaName(t.schema), created: false }, t.mark);
    }
  });
  after(async () => {
    await pool?.end();
    await s?.close();
    await file?.remove();
    for (const t of twins) await t.sim?.close();
  });

  it('the replay list covers every tool the server offers', async () => {
    const client = await connectClient(s.url, await s.token({ email: twins[0]!.email, scope: ALL_SCOPES }));
    const { tools } = await client.listTools();
    await client.close();
    const covered = new Set(TWIN_TOOL_CALLS.map((c) => c.name));
    assert.deepEqual(
      tools.map((t) => t.name).filter((n) => !covered.has(n)),
      [],
      'add these tools to test/isolation/twin-tool-calls.ts',
    );
  });

  for (const [me, other] of [
    [0, 1],
    [1, 0],
  ] as const) {
    it(`as ${me ? 'twin-b' : 'twin-a'}: every tool reaches its own Vault; no trace of the twin in any result, error or log line`, async () => {
      const self = twins[me]!;
      const twin = twins[other]!;
      const client = await connectClient(
        s.url,
        await s.token({ sub: `user-${self.id}`, email: self.email, scope: ALL_SCOPES }),
      );
      const ctx: TwinContext = {
        mark: self.mark,
        otherMark: twin.mark,
        docId: self.docId,
        otherDocId: twin.docId,
        recordId: self.recordId,
        otherRecordId: twin.recordId,
      };
      const call = async (name: string, args: Record<string, unknown>) => {
        try {
          return (await client.callTool({ name, arguments: args })) as {
            isError?: boolean;
            content: { text: string }[];
            structuredContent?: { total?: number };
          };
        } catch (e) {
          return { isError: true, content: [{ text: `protocol error: ${(e as Error).message}` }] };
        }
      };
      const seen: string[] = [];
      const twinRequestsBefore = twin.sim!.counters.requests;
      try {
        for (const c of TWIN_TOOL_CALLS) {
          const args = c.arguments(ctx);
          const r = await call(c.name, args);
          const text = r.content.map((x) => x.text).join('\n');
          const what = `${c.name} ${JSON.stringify(args)} -> ${text.slice(0, 300)}`;
          if (c.expect === 'not_found') {
            // Same answer, word for word, as for an id that exists nowhere; never a permission error.
            const nowhere = await call(
              c.name,
              c.arguments({ ...ctx, otherDocId: NOWHERE_DOC_ID, otherRecordId: NOWHERE_RECORD_ID }),
            );
            assert.equal(r.isError, true, what);
            assert.match(text, /^ERR_VAULT_INVALID_REQUEST: Vault INVALID_DATA: /, what);
            assert.doesNotMatch(text, /ERR_VAULT_ACCESS|INSUFFICIENT_ACCESS|permission/i, what);
            // Ids the caller gave (the twin's document, its task = document + 1, its record) are masked.
            const mask = (t: string, doc: number, record: string) =>
              t
                .replaceAll(String(doc + 1), '<id>')
                .replaceAll(String(doc), '<id>')
                .replaceAll(record, '<id>');
            assert.equal(
              mask(text, twin.docId, twin.recordId),
              mask(nowhere.content.map((x) => x.text).join('\n'), NOWHERE_DOC_ID, NOWHERE_RECORD_ID),
              what,
            );
            // The id itself was the caller's input; everything else must be free of the twin.
            seen.push(mask(text, twin.docId, twin.recordId));
            continue;
          }
          assert.notEqual(r.isError, true, what);
          if (c.expect === 'own') assert.ok(text.includes(self.mark), `expected this tenant's canary: ${what}`);
          if (c.expect === 'empty') assert.equal(r.structuredContent?.total, 0, what);
          seen.push(text);
        }
      } finally {
        await client.close();
      }
      assert.equal(twin.sim!.counters.requests, twinRequestsBefore, "no request reached the twin's Vault");
      const whoami = JSON.parse(seen[TWIN_TOOL_CALLS.findIndex((c) => c.name === 'whoami')]!);
      assert.equal(whoami.tenant, self.id);
      assert.deepEqual(whoami.vaultUser, {
        id: '1001',
        username: self.email,
        email: self.email,
        mode: 'delegated',
        vault: self.sim!.url,
      });
      const all = seen.join('\n');
      for (const secret of [
        twin.mark,
        twin.id,
        twin.domain,
        twin.schema,
        twin.sim!.url,
        String(twin.docId),
        twin.recordId,
        twin.password,
      ]) {
        assert.ok(!all.includes(secret), `response leaked ${secret}`);
      }
      const myLines = logs.filter((l) => l.includes(`"tenant":"${self.id}"`));
      assert.ok(myLines.length > 0, `no log line carries the tenant: ${logs.slice(-5).join('\n')}`);
      assert.ok(
        myLines.some((l) => l.includes('vault login')),
        'the Vault login of this tenant is logged (and checked below)',
      );
      for (const l of myLines) {
        for (const secret of [twin.mark, twin.id, twin.schema, twin.sim!.url, twin.password, self.password])
          assert.ok(!l.includes(secret), `log leaked ${secret}: ${l}`);
        // No email local parts in logs (TENANCY-NOTES style rule 8).
        assert.ok(!l.includes(self.email), `log carries the email: ${l}`);
      }
    });
  }

  it("200 interleaved whoami calls of both tenants (server pool of 2): each answer names the caller's tenant", async () => {
    const tokens = await Promise.all(twins.map((t) => s.token({ sub: `user-${t.id}`, email: t.email })));
    const requestsBefore = twins.map((t) => t.sim!.counters.requests);
    const rand = rng(7);
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const i = rand() < 0.5 ? 0 : 1;
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 5)));
        const { body } = await postToolCall(s.url, tokens[i]!, 'whoami');
        const r = body.result?.structuredContent;
        return r?.tenant === twins[i]!.id && r?.vaultUser?.vault === twins[i]!.sim!.url;
      }),
    );
    assert.equal(results.filter((ok) => !ok).length, 0);
    twins.forEach((t, i) => assert.ok(t.sim!.counters.requests > requestsBefore[i]!, `${t.id}'s Vault was called`));
  });

  it('the canaries are really there (the test above would pass vacuously otherwise)', async () => {
    for (const t of twins) {
      const c = await pool.connect();
      try {
        const { rows } = await c.query(`SELECT subject FROM ${pg.escapeIdentifier(t.schema)}.user_mappings`);
        assert.ok(
          rows.some((r) => r.subject === t.mark),
          JSON.stringify(rows),
        );
      } finally {
        c.release();
      }
    }
  });
});
