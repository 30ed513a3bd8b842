/**
 * A slow tenant Vault must not starve the others: no database connection is held while a Vault login
 * waits. With a pool of 2 connections, tenant A's Vault hangs on every login (four A users logging in
 * at once) while tenant B logs in and serves 24 tool-like calls (a Vault query plus an audit-row write
 * on the same pool, as the server does for each tool call). B's calls keep their normal latency; the
 * figures are printed next to a baseline measured with the same workload before A's Vault hangs.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER } from '../../src/dev/vault-sim/seed.js';
import { isAppError } from '../../src/errors/index.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { createSessionManager, type SessionManager } from '../../src/vault/session-manager.js';
import { createPgSessionStore } from '../../src/vault/session-store-pg.js';
import {
  createTenantDb,
  ctxFor,
  makeTenant,
  provisionTenant,
  SA_AUTH,
  SIM_SECRETS,
  TEST_SECRET_KEY,
} from '../helpers/vault.js';

/** How long tenant A's Vault keeps every login waiting (the client's timeout ends it). */
const HANG_MS = 8_000;
const CALLS = 24;
const CONCURRENCY = 4;

describe('a hanging tenant Vault does not starve other tenants of database connections', () => {
  let sim: VaultSimulator;
  let hanging: Server;
  let env: Awaited<ReturnType<typeof createTenantDb>>;
  let pool: Pool;
  let sessions: SessionManager;
  let a: Tenant;
  let b: Tenant;
  let baseline: Tenant;
  let warmup: Tenant;
  let loginsStarted = 0;

  before(async () => {
    sim = await startVaultSimulator();
    // Accepts every request and never answers it.
    hanging = createServer(() => void loginsStarted++);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    env = await createTenantDb();
    a = makeTenant(
      `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`,
      { mode: 'oauth', profileId: 'p' },
      'slow-a',
    );
    b = makeTenant(sim.url, SA_AUTH, 'busy-b');
    baseline = makeTenant(sim.url, SA_AUTH, 'baseline-c');
    warmup = makeTenant(sim.url, SA_AUTH, 'warmup-w');
    for (const t of [a, b, baseline, warmup]) await provisionTenant(env.pool, t);
    pool = createPool({ url: env.db.url, max: 2, statementTimeoutMs: 15_000 });
    sessions = createSessionManager({
      store: createPgSessionStore({ pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      oauthToken: () => Promise.resolve('a-vault-token'),
      keepAliveIntervalMs: 0,
      timeoutMs: HANG_MS,
      maxRetries: 0,
    });
  });
  after(async () => {
    await sessions?.close();
    await pool?.end();
    hanging?.closeAllConnections();
    await new Promise((r) => hanging?.close(r));
    await env?.close();
    await sim?.close();
  });

  /** One tool-like call: a Vault query as the user, then the audit row on the shared pool. */
  async function toolCall(t: Tenant, i: number): Promise<number> {
    const started = performance.now();
    await sessions.withSession(
      ctxFor(t, QA_MANAGER),
      async (s) => (await s.client.query(s.sessionId, 'SELECT id FROM documents')).data,
    );
    await withTenant(pool, t.schema, (tx) =>
      tx.query('INSERT INTO audit_log (subject, tool, outcome) VALUES ($1, $2, $3)', [
        `user-${i}`,
        'documents_query',
        'ok',
      ]),
    );
    return performance.now() - started;
  }

  /** CALLS calls, CONCURRENCY at a time (the first one logs the tenant in). */
  async function workload(t: Tenant): Promise<{ latencies: number[]; totalMs: number }> {
    const started = performance.now();
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CALLS) latencies.push(await toolCall(t, next++));
      }),
    );
    return { latencies: latencies.sort((x, y) => x - y), totalMs: performance.now() - started };
  }

  const figures = (w: { latencies: number[]; totalMs: number }) => {
    const q = (p: number) => w.latencies[Math.min(w.latencies.length - 1, Math.floor(p * w.latencies.length))]!;
    return `p50 ${q(0.5).toFixed(1)} ms, max ${q(1).toFixed(1)} ms, ${CALLS} calls in ${w.totalMs.toFixed(0)} ms`;
  };

  it(`tenant B keeps its latency while tenant A's Vault hangs ${HANG_MS / 1000} s on four logins (pool of 2)`, async () => {
    await workload(warmup); // connections, JIT
    const calm = await workload(baseline);

    const aCalls = ['u1', 'u2', 'u3', 'u4'].map((u) =>
      sessions
        .withSession(ctxFor(a, `${u}@slow-a.com`), (s) => s.client.keepAlive(s.sessionId))
        .then(
          () => 'answered',
          (e: unknown) => e,
        ),
    );
    const aStarted = performance.now();
    // Every A login is under way (with a lock held on a pooled connection, only two could be).
    for (let i = 0; i < 100 && loginsStarted < 4; i++) await new Promise((r) => setTimeout(r, 10));
    const busy = await workload(b);
    const bDoneAt = performance.now() - aStarted;

    console.log(`  baseline (no hanging Vault): ${figures(calm)}`);
    console.log(`  tenant B while A hangs:      ${figures(busy)}; A's 4 logins hanging since ${bDoneAt.toFixed(0)} ms`);

    assert.ok(bDoneAt < HANG_MS / 2, `B finished while A's logins still hang (${bDoneAt.toFixed(0)} ms)`);
    assert.ok(
      busy.latencies.at(-1)! < Math.max(1_000, 10 * calm.latencies.at(-1)!),
      `B's slowest call stays near the baseline (${figures(busy)} vs ${figures(calm)})`,
    );
    const outcomes = await Promise.all(aCalls);
    for (const o of outcomes)
      assert.ok(isAppError(o) && o.code === 'ERR_VAULT_UNAVAILABLE' && /within/.test(o.message), String(o));
  });
});
