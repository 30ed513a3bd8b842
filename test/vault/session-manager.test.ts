import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT } from '../../src/dev/vault-sim/seed.js';
import { withTenant } from '../../src/db/with-tenant.js';
import type { Pool } from '../../src/db/pool.js';
import { isAppError, type AppError } from '../../src/errors/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { createSessionManager, type SessionManager } from '../../src/vault/session-manager.js';
import { createMemorySessionStore } from '../../src/vault/session-store.js';
import { createPgSessionStore } from '../../src/vault/session-store-pg.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import {
  createTenantDb,
  ctxFor,
  DELEGATED_AUTH,
  makeTenant,
  provisionTenant,
  SA_AUTH,
  SIM_SECRETS,
  TEST_SECRET_KEY,
} from '../helpers/vault.js';

const cipher = createSessionCipher(TEST_SECRET_KEY);
const secrets = (n: string) => SIM_SECRETS[n];
const docIds = (s: SessionManager, ctx: ReturnType<typeof ctxFor>) =>
  s
    .withSession(ctx, async (v) =>
      (await v.client.query(v.sessionId, 'SELECT id FROM documents ORDER BY id')).data.map((r) => r.id),
    )
    .then((r) => r.value);

describe('session manager (real Postgres, simulator)', () => {
  let sim: VaultSimulator;
  let env: Awaited<ReturnType<typeof createTenantDb>>;
  let sa: Tenant;
  let dg: Tenant;
  const managers: SessionManager[] = [];
  const manager = (pool: Pool = env.pool, extra: Partial<Parameters<typeof createSessionManager>[0]> = {}) => {
    const m = createSessionManager({
      store: createPgSessionStore({ pool, cipher }),
      secrets,
      keepAliveIntervalMs: 0,
      ...extra,
    });
    managers.push(m);
    return m;
  };

  before(async () => {
    sim = await startVaultSimulator();
    env = await createTenantDb();
    sa = makeTenant(sim.url, SA_AUTH, 'acme');
    dg = makeTenant(sim.url, DELEGATED_AUTH, 'acme-dg');
    await provisionTenant(env.pool, sa);
    await provisionTenant(env.pool, dg);
  });
  after(async () => {
    for (const m of managers) await m.close();
    await env?.close();
    await sim?.close();
  });

  it('500 concurrent first calls log in exactly once (service_account)', async () => {
    sim.resetCounters();
    const m = manager();
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        m.withSession(ctxFor(sa, `user${i % 7}@acme.com`), (v) => Promise.resolve(v.sessionId)).then((r) => r.value),
      ),
    );
    assert.equal(new Set(results).size, 1);
    assert.equal(sim.loginsFor(SERVICE_ACCOUNT), 1);
  });

  it('three replicas (separate pools, separate managers) log in once together', async () => {
    const tenant = makeTenant(sim.url, SA_AUTH, 'acme-replicas');
    await provisionTenant(env.pool, tenant);
    sim.resetCounters();
    const replicas = [manager(env.newPool()), manager(env.newPool()), manager(env.newPool())];
    const ids = await Promise.all(
      replicas.flatMap((m) =>
        Array.from({ length: 50 }, () =>
          m.withSession(ctxFor(tenant, QA_MANAGER), (v) => Promise.resolve(v.sessionId)).then((r) => r.value),
        ),
      ),
    );
    assert.equal(new Set(ids).size, 1);
    assert.equal(sim.loginsFor(SERVICE_ACCOUNT), 1);
  });

  it('stores the session id encrypted, bound to its tenant and key', async () => {
    const m = manager();
    const { value: sessionId } = await m.withSession(ctxFor(sa, QA_MANAGER), (v) => Promise.resolve(v.sessionId));
    const { rows } = await withTenant(env.pool, sa.schema, (tx) =>
      tx.query<{ key: string; ciphertext: Buffer }>('SELECT key, ciphertext FROM vault_sessions'),
    );
    assert.equal(rows.length, 1);
    const blob = rows[0]!.ciphertext;
    assert.ok(!blob.toString('latin1').includes(sessionId));
    assert.ok(!blob.toString('hex').toUpperCase().includes(sessionId));
    assert.equal(cipher.decrypt(blob, `${sa.schema}|sa`), sessionId);
    assert.throws(() => cipher.decrypt(blob, `${dg.schema}|sa`));
    assert.throws(() => createSessionCipher('another-secret-key-0123456789abcdef01').decrypt(blob, `${sa.schema}|sa`));
  });

  it('recovers from an expired session with exactly one re-login', async () => {
    const m = manager();
    await docIds(m, ctxFor(sa, QA_MANAGER));
    sim.resetCounters();
    sim.expireAllSessions();
    const ids = await Promise.all(Array.from({ length: 20 }, () => docIds(m, ctxFor(sa, QA_MANAGER))));
    assert.equal(ids[0]!.length, 8);
    assert.equal(sim.loginsFor(SERVICE_ACCOUNT), 1);
    assert.ok(sim.counters.invalidSessions >= 1);
  });

  it('counts one session-cache hit or miss per call (not the service session behind it, not a re-login)', async () => {
    const tenant = makeTenant(sim.url, DELEGATED_AUTH, 'acme-dg-metrics');
    await provisionTenant(env.pool, tenant);
    const metrics = createMetrics({ defaultMetrics: false });
    const m = manager(env.pool, { metrics });
    const counted = async () =>
      Object.fromEntries(
        (await metrics.vaultSessionCache.get()).values.map((v) => [`${v.labels.tenant}:${v.labels.result}`, v.value]),
      );
    await docIds(m, ctxFor(tenant, QA_MANAGER)); // the delegated session and the service session behind it: one miss
    assert.deepEqual(await counted(), { 'acme-dg-metrics:miss': 1 });
    await docIds(m, ctxFor(tenant, QA_MANAGER));
    assert.deepEqual(await counted(), { 'acme-dg-metrics:miss': 1, 'acme-dg-metrics:hit': 1 });
    sim.expireAllSessions(); // a cached session Vault rejects: the re-login is part of the same call
    await docIds(m, ctxFor(tenant, QA_MANAGER));
    assert.deepEqual(await counted(), { 'acme-dg-metrics:miss': 1, 'acme-dg-metrics:hit': 2 });
  });

  it('delegated mode: each user sees what Vault lets them see; one login per user', async () => {
    sim.resetCounters();
    const m = manager();
    const [mgr, spec] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => docIds(m, ctxFor(dg, QA_MANAGER)))),
      Promise.all(Array.from({ length: 100 }, () => docIds(m, ctxFor(dg, QA_SPECIALIST)))),
    ]);
    assert.deepEqual(mgr[0], [101, 102, 103, 104, 105, 106, 107, 108]);
    assert.deepEqual(spec[0], [101, 103, 106, 107]);
    assert.equal(sim.counters.logins[SERVICE_ACCOUNT], 1);
    assert.equal(sim.counters.delegatedLogins[QA_MANAGER], 1);
    assert.equal(sim.counters.delegatedLogins[QA_SPECIALIST], 1);
    const { rows } = await withTenant(env.pool, dg.schema, (tx) =>
      tx.query<{ vault_user_id: string }>('SELECT vault_user_id FROM user_mappings ORDER BY vault_user_id'),
    );
    assert.deepEqual(
      rows.map((r) => r.vault_user_id),
      ['1001', '1002'],
    );
  });

  it('delegated mode refuses users without a Vault account or without a delegation grant', async () => {
    const m = manager();
    await assert.rejects(
      docIds(m, ctxFor(dg, 'nobody@acme.com')),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_ACCESS' && /No active Vault user/.test(e.message),
    );
    await assert.rejects(
      docIds(m, ctxFor(dg, 'former.employee@acme.com')),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_ACCESS',
    );
    await assert.rejects(
      docIds(m, ctxFor(dg, 'ra.lead@acme.com')),
      (e: unknown) =>
        isAppError(e) && e.code === 'ERR_VAULT_ACCESS' && /has not granted delegate access/.test(e.message),
    );
    const unverified = ctxFor(dg, QA_MANAGER, ['vault:read'], 'unverified');
    unverified.user.emailVerified = false;
    await assert.rejects(docIds(m, unverified), (e: unknown) => isAppError(e) && /verified email/.test(e.message));
  });

  it('keeps a warm session alive past the inactivity timeout instead of logging in again', async () => {
    const shortSim = await startVaultSimulator({ sessionTimeoutMs: 2000 });
    try {
      const tenant = makeTenant(shortSim.url, SA_AUTH, 'acme-keepalive');
      await provisionTenant(env.pool, tenant);
      // Generous steps (800 ms of slack each) so a loaded machine does not turn timing into flakes.
      const m = manager(env.pool, { idleTimeoutMs: 2000, marginMs: 100, keepAliveIntervalMs: 0 });
      await docIds(m, ctxFor(tenant, QA_MANAGER));
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 550));
        await m.keepAliveNow();
      }
      assert.ok(shortSim.counters.keepAlives >= 2);
      await docIds(m, ctxFor(tenant, QA_MANAGER));
      assert.equal(shortSim.loginsFor(SERVICE_ACCOUNT), 1);
      assert.equal(shortSim.counters.invalidSessions, 0);

      // Cold (no keep-alive): the manager sees the session is idle-expired and logs in before calling.
      const cold = manager(env.newPool(), { idleTimeoutMs: 2000, marginMs: 100, keepAliveIntervalMs: 0 });
      await docIds(cold, ctxFor(tenant, QA_MANAGER));
      await new Promise((r) => setTimeout(r, 2100));
      await docIds(cold, ctxFor(tenant, QA_MANAGER));
      assert.equal(shortSim.counters.invalidSessions, 0);
      assert.equal(shortSim.loginsFor(SERVICE_ACCOUNT), 2);
    } finally {
      await shortSim.close();
    }
  });

  it('revoke ends the user session in Vault and in the store', async () => {
    const m = manager();
    const before = sim.counters.logouts;
    await docIds(m, ctxFor(dg, QA_SPECIALIST));
    assert.equal(await m.revoke(dg, ctxFor(dg, QA_SPECIALIST).user.subject), true);
    assert.equal(sim.counters.logouts, before + 1);
    const { rows } = await withTenant(env.pool, dg.schema, (tx) =>
      tx.query('SELECT 1 FROM vault_sessions WHERE key LIKE $1', ['dg:%specialist%']),
    );
    assert.equal(rows.length, 0);
  });

  it('a call without a tenant fails with a clear error', async () => {
    const m = manager();
    await assert.rejects(
      docIds(m, ctxFor(undefined, QA_MANAGER)),
      (e: unknown) => isAppError(e) && e.code === 'ERR_TENANT_NOT_FOUND',
    );
  });

  it('a missing password env var is reported by name', async () => {
    const m = createSessionManager({
      store: createMemorySessionStore(),
      secrets: () => undefined,
      keepAliveIntervalMs: 0,
    });
    await assert.rejects(
      docIds(m, ctxFor(sa, QA_MANAGER)),
      (e: unknown) => isAppError(e) && /ACME_VAULT_PASSWORD/.test(e.message),
    );
  });

  it('oauth mode opens a session from a Vault token source, one per user', async () => {
    const tenant = makeTenant(
      sim.url,
      { mode: 'oauth', profileId: 'okta-profile', clientId: 'vault-mcp' },
      'acme-oauth',
    );
    sim.resetCounters();
    let asked = 0;
    const m = createSessionManager({
      store: createMemorySessionStore(),
      secrets,
      keepAliveIntervalMs: 0,
      oauthToken: (ctx) => {
        asked++;
        return Promise.resolve(sim.oauthToken(ctx.user.email!));
      },
    });
    managers.push(m);
    const spec = await Promise.all(Array.from({ length: 50 }, () => docIds(m, ctxFor(tenant, QA_SPECIALIST))));
    assert.deepEqual(spec[0], [101, 103, 106, 107]);
    assert.equal(sim.counters.oauthLogins[QA_SPECIALIST], 1);
    assert.equal(asked, 1);
    const noSource = createSessionManager({ store: createMemorySessionStore(), secrets, keepAliveIntervalMs: 0 });
    await assert.rejects(docIds(noSource, ctxFor(tenant, QA_MANAGER)), /no Vault token source/);
  });

  it("after a tenant's Vault URL changes, no session of the old Vault reaches the new host (cache and store)", async () => {
    const simB = await startVaultSimulator({ recordRequests: true });
    try {
      const onA = makeTenant(sim.url, SA_AUTH, 'acme-moved');
      await provisionTenant(env.pool, onA);
      const onB: Tenant = { ...onA, vault: { ...onA.vault, url: simB.url } };
      const m = manager();
      const { value: oldId } = await m.withSession(ctxFor(onA, QA_MANAGER), (v) => Promise.resolve(v.sessionId));

      // Same manager (cached session of A) and a fresh replica (only the stored row of A).
      const replica = manager(env.newPool());
      for (const mgr of [m, replica]) {
        const ids = await mgr.withSession(ctxFor(onB, QA_MANAGER), async (v) =>
          (await v.client.query(v.sessionId, 'SELECT id FROM documents')).data.map((r) => r.id),
        );
        assert.equal(ids.value.length, 8);
      }
      const sent = simB.requests().map((r) => r.authorization);
      assert.ok(!sent.includes(oldId), "the old Vault's session id was sent to the new host");
      assert.equal(simB.counters.invalidSessions, 0);
      assert.equal(simB.loginsFor(SERVICE_ACCOUNT), 1, 'one login on the new Vault, shared by both replicas');
      const { rows } = await withTenant(env.pool, onA.schema, (tx) =>
        tx.query<{ vault_url: string }>('SELECT vault_url FROM vault_sessions'),
      );
      assert.deepEqual(
        rows.map((r) => r.vault_url),
        [simB.url],
      );
    } finally {
      await simB.close();
    }
  });

  it("the delegated user's Vault id is looked up again on the new Vault after a URL change", async () => {
    const simB = await startVaultSimulator();
    try {
      const onA = makeTenant(sim.url, DELEGATED_AUTH, 'acme-dg-moved');
      await provisionTenant(env.pool, onA);
      const onB: Tenant = { ...onA, vault: { ...onA.vault, url: simB.url } };
      const m = manager();
      await docIds(m, ctxFor(onA, QA_MANAGER));
      await docIds(m, ctxFor(onB, QA_MANAGER));
      assert.equal(simB.counters.delegatedLogins[QA_MANAGER], 1);
      assert.equal(simB.counters.invalidSessions, 0);
      const { rows } = await withTenant(env.pool, onA.schema, (tx) =>
        tx.query<{ vault_url: string }>('SELECT vault_url FROM user_mappings'),
      );
      assert.deepEqual(
        rows.map((r) => r.vault_url),
        [simB.url],
      );
    } finally {
      await simB.close();
    }
  });

  it("Vault's per-minute login limit: the caller gets a retryable error at once and /auth is not called again", async () => {
    const limited = await startVaultSimulator({ authBurstLimit: 1, recordRequests: true });
    try {
      const tenant = makeTenant(limited.url, SA_AUTH, 'acme-auth-limit');
      await provisionTenant(env.pool, tenant);
      const m = manager();
      await docIds(m, ctxFor(tenant, QA_MANAGER)); // the one login this minute allows
      limited.expireAllSessions();
      const started = performance.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, () => docIds(m, ctxFor(tenant, QA_MANAGER))),
      );
      const again = await Promise.allSettled([docIds(m, ctxFor(tenant, QA_MANAGER))]);
      const elapsed = performance.now() - started;
      for (const o of [...outcomes, ...again]) {
        assert.equal(o.status, 'rejected');
        const e = o.reason as AppError;
        assert.equal(e.code, 'ERR_VAULT_RATE_LIMITED');
        assert.match(e.message, /login limit .* retry in \d+ s/);
        assert.ok(Number(e.details.retryAfter) > 0 && Number(e.details.retryAfter) <= 60);
      }
      assert.ok(elapsed < 2_000, `answered in ${elapsed.toFixed(0)} ms, not after retry sleeps`);
      const auths = limited.requests().filter((r) => r.path.endsWith('/auth'));
      assert.equal(auths.length, 2, 'the first login and one refused attempt; nothing during the window');
    } finally {
      await limited.close();
    }
  });

  it('close() with a process-local store ends the sessions it opened', async () => {
    const m = createSessionManager({ store: createMemorySessionStore(), secrets, keepAliveIntervalMs: 0 });
    await docIds(m, ctxFor(dg, QA_MANAGER));
    const before = sim.counters.logouts;
    const live = sim.liveSessions();
    await m.close();
    assert.equal(sim.counters.logouts, before + 2);
    assert.equal(sim.liveSessions(), live - 2);
    await assert.rejects(docIds(m, ctxFor(dg, QA_MANAGER)), /shutting down/);
  });
});
