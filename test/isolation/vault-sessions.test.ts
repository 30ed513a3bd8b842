/**
 * Tenant isolation of Vault sessions: two tenants, each with its own Vault (simulator), served by one
 * session manager and one pool. Interleaved calls always reach the caller's own Vault with the
 * caller's own session, and a session row copied from one tenant's schema into the other's is not
 * usable there (it does not decrypt: tenant schema and key are authenticated data).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { defaultSeed, QA_MANAGER, SERVICE_ACCOUNT } from '../../src/dev/vault-sim/seed.js';
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

describe('isolation: Vault sessions of two tenants', () => {
  let simA: VaultSimulator;
  let simB: VaultSimulator;
  let env: Awaited<ReturnType<typeof createTenantDb>>;
  let a: Tenant;
  let b: Tenant;
  let sessions: SessionManager;
  const names = (t: Tenant) =>
    sessions
      .withSession(ctxFor(t, QA_MANAGER), async (s) =>
        (await s.client.query(s.sessionId, 'SELECT name__v FROM documents')).data.map((r) => String(r.name__v)),
      )
      .then((r) => r.value);

  before(async () => {
    const seedB = defaultSeed();
    for (const d of seedB.documents) d.name__v = `CANARY-B ${String(d.name__v)}`;
    simA = await startVaultSimulator();
    simB = await startVaultSimulator({ seed: seedB });
    env = await createTenantDb();
    a = makeTenant(simA.url, SA_AUTH, 'tenant-a');
    b = makeTenant(simB.url, SA_AUTH, 'tenant-b');
    await provisionTenant(env.pool, a);
    await provisionTenant(env.pool, b);
    sessions = createSessionManager({
      store: createPgSessionStore({ pool: env.pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
  });
  after(async () => {
    await sessions?.close();
    await env?.close();
    await simA?.close();
    await simB?.close();
  });

  it('200 interleaved calls each reach their own Vault with their own session', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const t = i % 2 ? a : b;
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return { t, rows: await names(t) };
      }),
    );
    for (const { t, rows } of results) {
      assert.equal(
        rows.every((n) => n.startsWith('CANARY-B')),
        t === b,
        `tenant ${t.id} saw the other tenant's rows`,
      );
    }
    assert.equal(simA.loginsFor(SERVICE_ACCOUNT), 1);
    assert.equal(simB.loginsFor(SERVICE_ACCOUNT), 1);
  });

  it("a session row copied into the other tenant's schema is not used there", async () => {
    const admin = new pg.Client({ connectionString: env.db.url });
    await admin.connect();
    try {
      await admin.query(`DELETE FROM ${pg.escapeIdentifier(b.schema)}.vault_sessions`);
      await admin.query(
        `INSERT INTO ${pg.escapeIdentifier(b.schema)}.vault_sessions SELECT * FROM ${pg.escapeIdentifier(a.schema)}.vault_sessions`,
      );
    } finally {
      await admin.end();
    }
    const fresh = createSessionManager({
      store: createPgSessionStore({ pool: env.pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
    try {
      const requestsToA = simA.counters.requests;
      const loginsB = simB.loginsFor(SERVICE_ACCOUNT);
      const rows = await fresh
        .withSession(
          ctxFor(b, QA_MANAGER),
          async (s) => (await s.client.query(s.sessionId, 'SELECT name__v FROM documents')).data,
        )
        .then((r) => r.value);
      assert.ok(rows.every((r) => String(r.name__v).startsWith('CANARY-B')));
      assert.equal(simB.loginsFor(SERVICE_ACCOUNT), loginsB + 1, 'tenant B logged in afresh');
      assert.equal(simA.counters.requests, requestsToA, "nothing reached tenant A's Vault");
    } finally {
      await fresh.close();
    }
  });
});
