/**
 * Postgres restarted while requests flow, through the full server. Runs against a PRIVATE embedded
 * Postgres this test starts on its own port under a temp dir (never the shared server other tests
 * use), stops and starts it again: calls during the outage fail clearly (HTTP 503 or a tool error,
 * ERR_DB_UNAVAILABLE, no stack trace), the same server process serves again once Postgres is back,
 * without a restart, and no audit row is lost: every call answered with a result has its row, and
 * the tenant's chain verifies. Prints the figures.
 */
import { createAuditKeys } from '../../src/audit/keys.js';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config/index.js';
import { createPool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startEmbeddedPostgres, type EmbeddedDb } from '../../src/db/embedded.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import { freePort, writeTenantsFile } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { existingTenant } from '../helpers/tenant-fixture.js';
import { SIM_SECRETS } from '../helpers/vault.js';
import { report, tally } from './figures.js';

type Outcome = 'ok' | 'db_unavailable' | `other: ${string}`;

describe('Postgres restart mid-load (private embedded Postgres)', () => {
  let dir: string;
  let port: number;
  let pg: EmbeddedDb;
  let issuer: DevIssuer;
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let server: Running;
  let token: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vmcp-pg-restart-'));
    // As root, embedded Postgres runs initdb as the `postgres` OS user, which must create the cluster here.
    if (process.getuid?.() === 0) await chmod(dir, 0o777);
    port = await freePort();
    pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port });
    issuer = await startDevIssuer();
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(await freePort()),
      DATABASE_URL: pg.url,
      OIDC_ISSUER: issuer.issuer,
      SECRET_KEY: 'p'.repeat(32),
      TENANTS_FILE: tenantsFile.file,
      RATE_LIMIT_PER_MINUTE: '0',
      TENANT_CACHE_TTL_MS: '0', // every request resolves its tenant in Postgres, so the outage shows at once
      LOG_LEVEL: 'silent',
    });
    server = await start(config, {
      log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      secrets: (n) => SIM_SECRETS[n],
    });
    token = await issuer.mint({
      sub: 'alice',
      aud: config.resource,
      email: 'alice@globex.com',
      email_verified: true,
      scope: 'vault:read',
    });
  });
  after(async () => {
    await server?.close().catch(() => undefined);
    await pg?.stop();
    await issuer?.close();
    await sim?.close();
    await tenantsFile?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let seq = 0;
  const okIds: string[] = [];
  const call = async (): Promise<Outcome> => {
    const id = `pgr-${++seq}`;
    const r = await callOnce(id);
    if (r === 'ok') okIds.push(id);
    return r;
  };
  const callOnce = async (requestId: string): Promise<Outcome> => {
    const res = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        'x-request-id': requestId,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'documents_query', arguments: { page_size: 3 } },
      }),
    });
    const text = await res.text();
    if (/\n\s+at |node_modules|\.ts:\d+/.test(text)) return `other: stack trace in ${text.slice(0, 200)}`;
    const body = JSON.parse(text) as {
      result?: { isError?: boolean; content: { text: string }[] };
      error?: { message: string; data?: { code?: string } };
    };
    if (res.status === 200 && body.result && !body.result.isError) return 'ok';
    if (res.status === 200 && body.result?.content[0]!.text.startsWith('ERR_DB_UNAVAILABLE: ')) return 'db_unavailable';
    if (
      res.status === 503 &&
      body.error?.data?.code === 'ERR_DB_UNAVAILABLE' &&
      res.headers.get('content-type')?.includes('json')
    )
      return 'db_unavailable';
    return `other: HTTP ${res.status} ${text.slice(0, 200)}`;
  };

  it('calls during the outage fail with ERR_DB_UNAVAILABLE; the same process recovers; no audit row lost', async (t) => {
    const results: Outcome[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    const byPhase: Record<string, Outcome[]> = { before: [], down: [], after: [] };
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const p = phase;
        const r = await call();
        results.push(r);
        byPhase[p]!.push(r);
      }
    });
    const until = async (cond: () => boolean) => {
      while (!cond()) await sleep(20);
    };
    await until(() => byPhase.before!.filter((r) => r === 'ok').length >= 20);
    const stopped = performance.now();
    await pg.stop();
    phase = 'down';
    await until(() => byPhase.down!.length >= 20);
    const readyDown = await fetch(`${server.url}/readyz`);
    assert.equal(readyDown.status, 503);
    pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port });
    const back = performance.now();
    phase = 'after';
    // Pooled connections to the old server are dead; the pool must replace them on its own.
    await until(() => byPhase.after!.some((r) => r === 'ok'));
    const recoveryMs = Math.round(performance.now() - back);
    await until(() => byPhase.after!.filter((r) => r === 'ok').length >= 20);
    stop = true;
    await Promise.all(workers);

    // No audit row lost: every call answered with a result has its row, and the chain is intact.
    const pool = createPool({ url: pg.url, max: 2, statementTimeoutMs: 5000 });
    let audited: Set<string>;
    let chainOk: boolean;
    try {
      const tenant = await existingTenant(pool, 'globex');
      const { rows } = await withTenant(pool, tenant.schema, (tx) =>
        tx.query<{ request_id: string }>("SELECT request_id FROM audit_log WHERE request_id LIKE 'pgr-%'"),
      );
      audited = new Set(rows.map((r) => r.request_id));
      chainOk = (await verifyAuditChain(pool, tenant, { keys: createAuditKeys('p'.repeat(32)) })).ok;
    } finally {
      await pool.end();
    }
    const missing = okIds.filter((id) => !audited.has(id));
    report(t, 'postgres restart', {
      calls: results.length,
      outcomes: tally(results.map((r) => (r.startsWith('other') ? 'other' : r))),
      'outage calls': tally(byPhase.down!),
      'outage ms': Math.round(back - stopped),
      'recovery ms (Postgres up → first ok)': recoveryMs,
      'ok calls': okIds.length,
      'audit rows': audited.size,
      'missing rows': missing.length,
    });
    assert.deepEqual(missing, [], 'every call answered with a result has its audit row');
    assert.equal(chainOk, true, 'the audit chain verifies across the restart');

    assert.deepEqual(
      results.filter((r) => r.startsWith('other')),
      [],
      'every call either succeeded or failed with ERR_DB_UNAVAILABLE',
    );
    assert.ok(
      byPhase.down!.filter((r) => r === 'db_unavailable').length >= 10,
      `outage calls: ${JSON.stringify(byPhase.down!.slice(0, 30))}`,
    );
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});
