/**
 * Replicas and database faults, through real servers: three `start()` replicas on one database extend
 * one audit chain; killing every database connection mid-load makes calls fail clearly (tool error
 * ERR_DB_UNAVAILABLE, never a result without its audit row) and the replicas recover on their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuditKeys } from '../../src/audit/keys.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { DEFAULT_TEST_TENANTS, freePort, writeTenantsFile } from '../helpers/server.js';
import { existingTenant } from '../helpers/tenant-fixture.js';

describe('three replicas on one Postgres', () => {
  let db: TestDb;
  let issuer: DevIssuer;
  let pool: Pool;
  let tenant: Tenant | undefined;
  const replicas: Running[] = [];
  let token: string;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;

  before(async () => {
    db = await createTestDatabase();
    tenantsFile = await writeTenantsFile(DEFAULT_TEST_TENANTS);
    issuer = await startDevIssuer();
    pool = createPool({ url: db.url, max: 2, statementTimeoutMs: 5000 });
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: String(port),
        PUBLIC_URL: 'http://127.0.0.1:1', // one resource (audience) for every replica, as behind a load balancer
        ALLOWED_HOSTS: '127.0.0.1',
        DATABASE_URL: db.url,
        OIDC_ISSUER: issuer.issuer,
        SECRET_KEY: 's'.repeat(32),
        RATE_LIMIT_PER_MINUTE: '0',
        DB_POOL_MAX: '3',
        LOG_LEVEL: 'silent',
        TENANTS_FILE: tenantsFile.file, // every replica applies it at boot, as in production
      });
      replicas.push(await start(config, { log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) }));
    }
    tenant = await existingTenant(pool, 'acme');
    token = await issuer.mint({
      sub: 'multi',
      aud: 'http://127.0.0.1:1/mcp',
      email: 'qa@acme.com',
      email_verified: true,
      scope: 'vault:read',
    });
  });
  after(async () => {
    for (const r of replicas) await r.close();
    await issuer?.close();
    await pool?.end();
    await db?.drop();
    await tenantsFile?.remove();
  });

  const call = async (url: string, id: string): Promise<'ok' | 'db_unavailable' | 'other'> => {
    try {
      const res = await fetch(`${url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
          'x-request-id': id,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'whoami', arguments: {} },
        }),
      });
      const body = (await res.json()) as { result?: { isError?: boolean; content: { text: string }[] } };
      if (res.status === 200 && body.result && !body.result.isError) return 'ok';
      if (body.result?.isError && body.result.content[0]!.text.startsWith('ERR_DB_UNAVAILABLE'))
        return 'db_unavailable';
      return 'other';
    } catch {
      return 'other';
    }
  };

  const stored = async (prefix: string) => {
    const { rows } = await withTenant(pool, tenant!.schema, (tx) =>
      tx.query<{ request_id: string }>('SELECT request_id FROM audit_log WHERE request_id LIKE $1', [`${prefix}%`]),
    );
    return new Set(rows.map((r) => r.request_id));
  };

  it('300 concurrent calls spread over the replicas: every row stored once, one unforked chain', async () => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => call(replicas[i % 3]!.url, `rep-${i}`)));
    assert.deepEqual([...new Set(results)], ['ok']);
    const ids = await stored('rep-');
    assert.equal(ids.size, 300);
    const v = await verifyAuditChain(pool, tenant!, { keys: createAuditKeys('s'.repeat(32)) });
    assert.equal(v.ok, true, JSON.stringify(v));
    // Every replica wrote batches (the lock serialised them rather than one replica doing all).
    for (const r of replicas) {
      const n = (await r.metrics.auditBatchSize.get()).values.find((x) => x.metricName?.endsWith('_count'))!.value;
      assert.ok(n > 0);
    }
  });

  it('every database connection killed mid-load: calls fail with ERR_DB_UNAVAILABLE or succeed audited; then all recover', async () => {
    const admin = createPool({ url: db.url, max: 1, statementTimeoutMs: 5000 });
    // Waves of calls; the connections die while the second wave is in flight.
    const wave = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => call(replicas[(from + i) % 3]!.url, `kill-${from + i}`));
    const first = wave(60, 0);
    await Promise.all(first);
    const second = wave(180, 60);
    await new Promise((r) => setTimeout(r, 10));
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    await admin.end();
    const killed = performance.now();
    const inflight = [...first, ...second];
    const results = await Promise.all(inflight);
    assert.ok(
      results.slice(0, 60).every((r) => r === 'ok'),
      'the wave before the fault succeeded',
    );
    assert.ok(
      !results.includes('other'),
      `every call either succeeded or failed clearly: ${JSON.stringify(results.filter((r) => r === 'other').length)} other`,
    );
    const ids = await stored('kill-');
    results.forEach((r, i) => {
      if (r === 'ok') assert.ok(ids.has(`kill-${i}`), `answered call kill-${i} has its audit row`);
    });
    // Recovery without a restart: every replica serves and audits again.
    const after = await Promise.all(replicas.map((r, i) => call(r.url, `after-${i}`)));
    assert.deepEqual(after, ['ok', 'ok', 'ok']);
    // No hang: a Vault login lease left behind by the fault once made every call wait out its 90 s.
    const recovered = performance.now() - killed;
    assert.ok(recovered < 30_000, `answered and recovered ${recovered.toFixed(0)} ms after the kill`);
    assert.equal((await stored('after-')).size, 3);
    assert.equal((await verifyAuditChain(pool, tenant!, { keys: createAuditKeys('s'.repeat(32)) })).ok, true);
  });
});
