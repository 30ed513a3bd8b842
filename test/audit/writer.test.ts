import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../src/audit/entry.js';
import { createAuditKeys } from '../../src/audit/keys.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { AUDIT_LOCK_NS, createAuditWriter } from '../../src/audit/writer.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { createLogger } from '../../src/log/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { createTenantFixture } from '../helpers/tenant-fixture.js';

const log = createLogger({ level: 'silent' });

function entry(requestId: string, extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    requestId,
    subject: 'oidc:https://idp.example.com|alice',
    actor: undefined,
    provider: 'oidc',
    tool: 'whoami',
    scopes: ['vault:read'],
    outcome: 'ok',
    errorCode: undefined,
    vaultUser: undefined,
    latencyMs: 3,
    ...extra,
  };
}

async function requestIds(pool: Pool, t: Tenant): Promise<string[]> {
  const r = await withTenant(pool, t.schema, (tx) =>
    tx.query<{ request_id: string }>('SELECT request_id FROM audit_log ORDER BY id'),
  );
  return r.rows.map((x) => x.request_id);
}

describe('audit writer (group commit, hash chain)', () => {
  let db: TestDb;
  let pool: Pool;
  let acme: Tenant;
  let globex: Tenant;
  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ url: db.url, max: 8, statementTimeoutMs: 10_000 });
    acme = await createTenantFixture(pool, 'acme');
    globex = await createTenantFixture(pool, 'globex');
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('commits concurrent records in few transactions and the chain verifies', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const audit = createAuditWriter({ pool, log, metrics });
    const ids = Array.from({ length: 200 }, (_, i) => `gc-${i}`);
    await Promise.all(ids.map((id) => audit.record(acme, entry(id))));
    const stored = await requestIds(pool, acme);
    assert.deepEqual(new Set(stored.filter((x) => x.startsWith('gc-'))), new Set(ids));
    const batches = (await metrics.auditBatchSize.get()).values.find(
      (v) => v.metricName === 'vault_mcp_audit_batch_size_count',
    )!.value;
    assert.ok(batches < 200 / 4, `200 concurrent records should share transactions, got ${batches} batches`);
    assert.equal((await metrics.auditPending.get()).values[0]!.value, 0, 'nothing left pending');
    const v = await verifyAuditChain(pool, acme);
    assert.equal(v.ok, true, JSON.stringify(v));
    await audit.close();
  });

  it('resolves only after commit: the row is readable as soon as record() resolves', async () => {
    const audit = createAuditWriter({ pool, log, lingerMs: 2 });
    await audit.record(globex, entry('durable-1'));
    assert.ok((await requestIds(pool, globex)).includes('durable-1'));
    await audit.close();
  });

  it('callers wait while the chain is locked by another replica, and are counted as pending', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const audit = createAuditWriter({ pool, log, metrics });
    const other = await pool.connect(); // another replica mid-batch: holds the tenant's chain lock
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [AUDIT_LOCK_NS, globex.schema]);
    let resolved = 0;
    const pending = Array.from({ length: 5 }, (_, i) =>
      audit.record(globex, entry(`locked-${i}`)).then(() => void resolved++),
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(resolved, 0, 'no record resolves before its batch commits');
    assert.equal((await metrics.auditPending.get()).values[0]!.value, 5);
    await other.query('COMMIT');
    other.release();
    await Promise.all(pending);
    assert.equal((await metrics.auditPending.get()).values[0]!.value, 0);
    assert.equal((await verifyAuditChain(pool, globex)).ok, true);
    await audit.close();
  });

  it('close() under load: every record made before close resolves and is stored; later ones are refused, none hang', async () => {
    const audit = createAuditWriter({ pool, log, maxBatch: 64 });
    const before = await Promise.all([requestIds(pool, acme), requestIds(pool, globex)]);
    const outcomes: Promise<'ok' | 'refused'>[] = [];
    const issuedBeforeClose: string[] = [];
    let closed: Promise<void> | undefined;
    for (let i = 0; i < 1500; i++) {
      const id = `load-${i}`;
      const t = i % 3 ? acme : globex;
      if (i === 700) closed = audit.close();
      if (!closed) issuedBeforeClose.push(id);
      outcomes.push(
        audit.record(t, entry(id)).then(
          () => 'ok' as const,
          (e: { code?: string }) => {
            assert.equal(e.code, 'ERR_DB_UNAVAILABLE');
            return 'refused' as const;
          },
        ),
      );
      // Yield now and then so batches are in flight when close() is called.
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(outcomes);
    await closed;
    const okIds = results.flatMap((r, i) => (r === 'ok' ? [`load-${i}`] : []));
    assert.deepEqual(okIds, issuedBeforeClose, 'exactly the records issued before close() succeed');
    const after = [...(await requestIds(pool, acme)), ...(await requestIds(pool, globex))];
    const stored = after.filter((x) => x.startsWith('load-'));
    assert.equal(stored.length, okIds.length, 'no duplicates, nothing lost');
    assert.deepEqual(new Set(stored), new Set(okIds));
    assert.ok(after.length === before[0].length + before[1].length + okIds.length);
    for (const t of [acme, globex]) assert.equal((await verifyAuditChain(pool, t)).ok, true);
  });

  it('two writers on separate pools (two replicas) extend one chain without forking it', async () => {
    const pool2 = createPool({ url: db.url, max: 4, statementTimeoutMs: 10_000 });
    const a = createAuditWriter({ pool, log });
    const b = createAuditWriter({ pool: pool2, log, lingerMs: 1 });
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).record(acme, entry(`replica-${i}`))));
      const v = await verifyAuditChain(pool, acme, { pageSize: 37 });
      assert.equal(v.ok, true, JSON.stringify(v));
      const { rows } = await withTenant(pool, acme.schema, (tx) =>
        tx.query<{ n: string; d: string }>(
          'SELECT count(*) AS n, count(DISTINCT prev_hash) AS d FROM audit_log WHERE prev_hash IS NOT NULL',
        ),
      );
      assert.equal(rows[0]!.n, rows[0]!.d, 'no two rows share a predecessor (no fork)');
    } finally {
      await a.close();
      await b.close();
      await pool2.end();
    }
  });

  it('stores no secrets: secret-looking keys redacted, long values truncated, NUL and lone surrogates cleaned', async () => {
    const audit = createAuditWriter({ pool, log });
    await audit.record(
      globex,
      entry('secrets-1', {
        details: {
          args: {
            query: 'x'.repeat(5000),
            password: 'hunter2',
            nested: { accessToken: 'eyJ.abc.def' },
            weird: 'a\u0000b\ud800c',
          },
        },
      }),
    );
    await audit.close();
    const { rows } = await withTenant(pool, globex.schema, (tx) =>
      tx.query<{ details: { args: { query: string; weird: string } } }>(
        "SELECT details FROM audit_log WHERE request_id = 'secrets-1'",
      ),
    );
    const text = JSON.stringify(rows[0]!.details);
    assert.ok(!text.includes('hunter2') && !text.includes('eyJ.abc.def'), text);
    assert.ok(rows[0]!.details.args.query.length < 300);
    assert.equal(rows[0]!.details.args.weird, 'ab\ufffdc');
    assert.equal((await verifyAuditChain(pool, globex)).ok, true);
  });

  it('the tenant role cannot UPDATE, DELETE or TRUNCATE audit rows', async () => {
    for (const sql of ["UPDATE audit_log SET outcome = 'ok'", 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
      await assert.rejects(
        withTenant(pool, acme.schema, (tx) => tx.query(sql)),
        (e: { code?: string }) => e.code === '42501',
        sql,
      );
    }
  });

  it('verify reports the first tampered row (UPDATE / DELETE as superuser with triggers bypassed) and the CLI exits 1', async () => {
    const keys = createAuditKeys('x'.repeat(32)); // the CLI's SECRET_KEY below
    const audit = createAuditWriter({ pool, log, keys });
    const t = await createTenantFixture(pool, 'tamper');
    for (let i = 0; i < 10; i++) await audit.record(t, entry(`t-${i}`, { outcome: i === 4 ? 'denied' : 'ok' }));
    await audit.close();
    const ids = (await pool.query<{ id: string }>(`SELECT id FROM ${t.schema}.audit_log ORDER BY id`)).rows.map(
      (r) => r.id,
    );
    assert.equal((await verifyAuditChain(pool, t, { keys })).ok, true);

    const env = { ...process.env, DATABASE_URL: db.url, NODE_ENV: 'test', SECRET_KEY: 'x'.repeat(32) };
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', ...args], { env, encoding: 'utf8' });
    const good = cli(['verify', '--tenant', 'tamper']);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /tamper: OK 10 rows \(keyed from row \d+\), head [0-9a-f]{64}/);

    const superuser = async (sql: string) => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query("SET LOCAL session_replication_role = 'replica'"); // bypasses the append-only trigger
        await c.query(sql);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    };
    await superuser(`UPDATE ${t.schema}.audit_log SET outcome = 'ok' WHERE id = ${ids[4]}`);
    let v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.ok, false);
    assert.equal(v.broken!.id, ids[4]);
    assert.match(v.broken!.reason, /contents do not match its keyed hash/);
    const bad = cli(['verify', '--tenant', 'tamper']);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, new RegExp(`BROKEN at row id ${ids[4]}`));

    await superuser(`UPDATE ${t.schema}.audit_log SET outcome = 'denied' WHERE id = ${ids[4]}`); // restore
    assert.equal((await verifyAuditChain(pool, t, { keys })).ok, true);
    await superuser(`DELETE FROM ${t.schema}.audit_log WHERE id = ${ids[6]}`);
    v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.broken!.id, ids[7]);
    assert.match(v.broken!.reason, /prev_hash/);
    await superuser(`DELETE FROM ${t.schema}.audit_log WHERE id = ${ids[0]}`);
    v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.broken!.id, ids[1]);
    assert.match(v.broken!.reason, /rows before it were deleted/);
    assert.equal(cli(['verify', '--tenant', 'nope']).status, 1);
    assert.equal(cli(['frobnicate']).status, 64);
  });

  it('a database that cannot be reached fails the call clearly (ERR_DB_UNAVAILABLE), not silently', async () => {
    const dead = createPool({ url: 'postgres://postgres@127.0.0.1:1/none', max: 1, statementTimeoutMs: 1000 });
    const audit = createAuditWriter({ pool: dead, log });
    await assert.rejects(
      audit.record(acme, entry('lost')),
      (e: { code?: string; message: string }) =>
        e.code === 'ERR_DB_UNAVAILABLE' && /audit log could not be written/.test(e.message),
    );
    await audit.close();
    await dead.end();
  });
});
