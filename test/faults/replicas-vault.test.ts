/**
 * Three replicas (three start() instances) on one database with the same SECRET_KEY and one Vault
 * simulator: many concurrent first tool calls spread over the replicas log the user in to Vault
 * exactly once, and every replica serves from that one shared session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, SERVICE_ACCOUNT } from '../../src/dev/vault-sim/seed.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { postToolCall } from '../helpers/mcp.js';
import { metricValue, scrape, TEST_METRICS_TOKEN } from '../helpers/metrics.js';
import { freePort, writeTenantsFile } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { SIM_SECRETS } from '../helpers/vault.js';

describe('three replicas share Vault sessions through Postgres', () => {
  let db: TestDb;
  let issuer: DevIssuer;
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  const replicas: Running[] = [];

  before(async () => {
    db = await createTestDatabase();
    issuer = await startDevIssuer();
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    for (let i = 0; i < 3; i++) {
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: String(await freePort()),
        PUBLIC_URL: 'http://127.0.0.1:1', // one resource (audience) for every replica, as behind a load balancer
        ALLOWED_HOSTS: '127.0.0.1',
        DATABASE_URL: db.url,
        OIDC_ISSUER: issuer.issuer,
        SECRET_KEY: 'r'.repeat(32),
        TENANTS_FILE: tenantsFile.file,
        RATE_LIMIT_PER_MINUTE: '0',
        DB_POOL_MAX: '4',
        LOG_LEVEL: 'silent',
        METRICS_TOKEN: TEST_METRICS_TOKEN,
      });
      replicas.push(
        await start(config, {
          log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
          secrets: (n) => SIM_SECRETS[n],
        }),
      );
    }
  });
  after(async () => {
    for (const r of replicas) await r.close();
    await issuer?.close();
    await sim?.close();
    await tenantsFile?.remove();
    await db?.drop();
  });

  it('90 concurrent first calls over 3 replicas: one Vault login for the user, one for the service account; every replica serves', async () => {
    const token = await issuer.mint({
      sub: 'mgr',
      aud: 'http://127.0.0.1:1/mcp',
      email: QA_MANAGER,
      email_verified: true,
      scope: 'vault:read',
    });
    const results = await Promise.all(
      Array.from({ length: 90 }, (_, i) =>
        postToolCall(replicas[i % 3]!.url, token, 'documents_query', { page_size: 5 }),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.body.result?.isError, undefined, JSON.stringify(r.body));
      assert.equal(r.body.result?.structuredContent?.total, 8);
    }
    assert.equal(sim.counters.delegatedLogins[QA_MANAGER], 1, 'one delegated session for the user');
    assert.equal(sim.counters.logins[SERVICE_ACCOUNT], 1, 'one service-account login');

    // Each replica served 30 calls; the login happened on exactly one of them, the others read the stored session.
    let logins = 0;
    for (const r of replicas) {
      const text = await scrape(r.url);
      assert.equal(
        metricValue(text, 'vault_mcp_tool_calls_total', { tool: 'documents_query', tenant: 'acme', outcome: 'ok' }),
        30,
      );
      logins += metricValue(text, 'vault_mcp_vault_logins_total', { tenant: 'acme', mode: 'delegated', outcome: 'ok' });
    }
    assert.equal(logins, 1);

    // Later calls on every replica hit their in-memory copy of the shared session: still one login.
    const again = await Promise.all(
      replicas.map((r) => postToolCall(r.url, token, 'documents_query', { page_size: 5 })),
    );
    assert.deepEqual(
      again.map((r) => r.body.result?.structuredContent?.total),
      [8, 8, 8],
    );
    assert.equal(sim.loginsFor(QA_MANAGER), 1);
    for (const r of replicas)
      assert.ok(
        metricValue(await scrape(r.url), 'vault_mcp_vault_session_cache_total', { tenant: 'acme', result: 'hit' }) >= 1,
      );
  });
});
