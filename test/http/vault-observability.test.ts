/**
 * Vault user in the audit and Vault metrics, through the real server (start(), TENANTS_FILE) against
 * the Vault simulator: a delegated tenant records the user's own Vault username; a service-account
 * tenant records the service account while `subject` stays the real user; /metrics shows session
 * cache hits, logins by mode, re-logins, Vault latency and Vault errors per tenant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT } from '../../src/dev/vault-sim/seed.js';
import { postToolCall } from '../helpers/mcp.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { existingTenant } from '../helpers/tenant-fixture.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { SIM_SECRETS } from '../helpers/vault.js';

describe('Vault user in the audit, Vault metrics (full server, simulator)', () => {
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let s: TestServer;
  let pool: Pool;

  before(async () => {
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    s = await startTestServer({ TENANTS_FILE: tenantsFile.file, RATE_LIMIT_PER_MINUTE: '0' }, { secrets: SIM_SECRETS });
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
  });
  after(async () => {
    await pool?.end();
    await s?.close();
    await tenantsFile?.remove();
    await sim?.close();
  });

  const rowsOf = async (tenantId: string, sub: string) => {
    const t = await existingTenant(pool, tenantId);
    const { rows } = await withTenant(pool, t.schema, (tx) =>
      tx.query<{
        subject: string;
        tool: string;
        outcome: string;
        error_code: string | null;
        vault_user: string | null;
      }>('SELECT subject, tool, outcome, error_code, vault_user FROM audit_log WHERE subject = $1 ORDER BY id', [
        `oidc:${s.issuer.issuer}|${sub}`,
      ]),
    );
    return rows;
  };
  const tokenFor = (sub: string, email: string) => s.token({ sub, email });

  it("delegated tenant: vault_user is each user's own Vault username, also on a failed call", async () => {
    const spec = await tokenFor('spec', QA_SPECIALIST);
    const ok = await postToolCall(s.url, spec, 'documents_query', { order_by: 'id' });
    assert.equal(ok.status, 200);
    assert.deepEqual(
      ok.body.result?.structuredContent?.documents.map((d: { id: number }) => d.id),
      [101, 103, 106, 107],
    );
    const denied = await postToolCall(s.url, spec, 'documents_get', { id: 105 });
    assert.equal(denied.body.result?.isError, true);
    const mgr = await postToolCall(s.url, await tokenFor('mgr', QA_MANAGER), 'whoami');
    assert.equal(mgr.body.result?.structuredContent?.vaultUser.username, QA_MANAGER);

    assert.deepEqual(await rowsOf('acme', 'spec'), [
      {
        subject: `oidc:${s.issuer.issuer}|spec`,
        tool: 'documents_query',
        outcome: 'ok',
        error_code: null,
        vault_user: QA_SPECIALIST,
      },
      {
        subject: `oidc:${s.issuer.issuer}|spec`,
        tool: 'documents_get',
        outcome: 'error',
        error_code: 'ERR_VAULT_INVALID_REQUEST',
        vault_user: QA_SPECIALIST,
      },
    ]);
    assert.deepEqual(
      (await rowsOf('acme', 'mgr')).map((r) => r.vault_user),
      [QA_MANAGER],
    );
  });

  it('service-account tenant: vault_user is the service account, subject is the real user', async () => {
    const alice = await tokenFor('alice', 'alice@globex.com');
    const r = await postToolCall(s.url, alice, 'documents_query', { page_size: 3 });
    assert.equal(r.body.result?.isError, undefined);
    await postToolCall(s.url, alice, 'whoami');
    const rows = await rowsOf('globex', 'alice');
    assert.deepEqual(
      rows.map((x) => [x.subject, x.tool, x.vault_user]),
      [
        [`oidc:${s.issuer.issuer}|alice`, 'documents_query', SERVICE_ACCOUNT],
        [`oidc:${s.issuer.issuer}|alice`, 'whoami', SERVICE_ACCOUNT],
      ],
    );
    // The other tenant's log knows nothing of alice.
    assert.deepEqual(await rowsOf('acme', 'alice'), []);
  });

  it('a call that never reaches Vault leaves vault_user empty', async () => {
    const r = await postToolCall(s.url, await tokenFor('nobody', 'nobody@globex.com'), 'documents_query', {
      page_size: 0,
    });
    assert.equal(r.body.result?.isError, true); // refused by the input schema before the tool ran: not audited
    const t = await postToolCall(s.url, await tokenFor('ra', 'ra.lead@acme.com'), 'documents_query', {});
    assert.match(JSON.stringify(t.body.result), /ERR_VAULT_ACCESS: /); // never granted delegate access
    // ERR_VAULT_ACCESS is a 403-class refusal: audited as denied.
    assert.deepEqual(
      (await rowsOf('acme', 'ra')).map((x) => [x.outcome, x.error_code, x.vault_user]),
      [['denied', 'ERR_VAULT_ACCESS', null]],
    );
  });

  it('/metrics: logins by mode, cache hits, re-logins, Vault latency and errors per tenant', async () => {
    const mgr = await tokenFor('mgr', QA_MANAGER);
    for (let i = 0; i < 3; i++) assert.equal((await postToolCall(s.url, mgr, 'documents_query', {})).status, 200);
    sim.expireAllSessions();
    const again = await postToolCall(s.url, mgr, 'documents_query', {});
    assert.equal(again.body.result?.isError, undefined, 'a rejected session is replaced transparently');

    const text = await scrape(s.url);
    const v = (name: string, labels: Record<string, string>) => metricValue(text, name, labels);
    // acme: one delegated login per user (spec, mgr), then mgr's re-login after expiry; the service account too.
    assert.equal(v('vault_mcp_vault_logins_total', { tenant: 'acme', mode: 'delegated', outcome: 'ok' }), 2 + 1);
    assert.ok(v('vault_mcp_vault_logins_total', { tenant: 'acme', mode: 'service_account', outcome: 'ok' }) >= 1);
    assert.equal(v('vault_mcp_vault_logins_total', { tenant: 'globex', mode: 'service_account', outcome: 'ok' }), 1);
    assert.equal(v('vault_mcp_vault_logins_total', { tenant: 'globex', mode: 'delegated' }), 0);
    assert.ok(v('vault_mcp_vault_session_cache_total', { tenant: 'acme', result: 'hit' }) >= 3);
    assert.ok(v('vault_mcp_vault_session_cache_total', { tenant: 'globex', result: 'miss' }) >= 1);
    // Both expired sessions were replaced: mgr's delegated one, and the service account's it is opened through.
    assert.equal(v('vault_mcp_vault_relogins_total', { tenant: 'acme' }), 2);
    assert.ok(v('vault_mcp_vault_request_duration_seconds_count', { tenant: 'acme', status: '200' }) >= 8);
    assert.ok(v('vault_mcp_vault_request_duration_seconds_count', { tenant: 'globex', status: '200' }) >= 2);
    assert.equal(v('vault_mcp_vault_errors_total', { tenant: 'acme', type: 'INVALID_DATA' }), 1);
    assert.equal(v('vault_mcp_vault_errors_total', { tenant: 'acme', type: 'INVALID_SESSION_ID' }), 2);
    assert.equal(v('vault_mcp_vault_errors_total', { tenant: 'globex' }), 0);
  });
});
