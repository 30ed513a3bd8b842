import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST, SIM_PASSWORD } from '../../src/dev/vault-sim/seed.js';
import { createVaultClient } from '../../src/vault/client.js';
import { isVaultError, VaultError } from '../../src/vault/errors.js';

describe('Vault client against the simulator', () => {
  let sim: VaultSimulator;
  const sleeps: number[] = [];
  const client = () =>
    createVaultClient({
      url: sim.url,
      apiVersion: 'v25.2',
      clientId: 'vault-mcp-test',
      backoffBaseMs: 10,
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((r) => setTimeout(r, Math.min(ms, 20)));
      },
    });
  before(async () => {
    sim = await startVaultSimulator();
  });
  after(async () => {
    await sim?.close();
  });

  it('authenticates with form username/password and sends X-VaultAPI-ClientID', async () => {
    const r = await client().auth(QA_MANAGER, SIM_PASSWORD);
    assert.match(r.sessionId, /^[0-9A-F]{96}$/);
    assert.equal(r.userId, 1001);
    assert.equal(r.vaultId, 5791);
    assert.ok(sim.counters.clientIds.includes('vault-mcp-test'));
  });

  it('maps FAILURE with HTTP 200 to a typed VaultError (wrong password)', async () => {
    await assert.rejects(client().auth(QA_MANAGER, 'nope'), (e: unknown) => {
      assert.ok(e instanceof VaultError);
      assert.equal(e.vaultType, 'USERNAME_OR_PASSWORD_INCORRECT');
      assert.equal(e.code, 'ERR_VAULT_AUTH');
      assert.match(e.message, /^Vault USERNAME_OR_PASSWORD_INCORRECT: /);
      return true;
    });
  });

  it('reports INVALID_SESSION_ID for an unknown session', async () => {
    await assert.rejects(client().query('BOGUS', 'SELECT id FROM documents'), (e: unknown) =>
      isVaultError(e, 'INVALID_SESSION_ID'),
    );
  });

  it('runs VQL and follows next_page', async () => {
    const c = client();
    const { sessionId } = await c.auth(QA_MANAGER, SIM_PASSWORD);
    const first = await c.query(sessionId, 'SELECT id, name__v FROM documents ORDER BY id PAGESIZE 3');
    assert.equal(first.responseDetails.total, 8);
    assert.deepEqual(
      first.data.map((r) => r.id),
      [101, 102, 103],
    );
    assert.ok(first.responseDetails.next_page);
    const second = await c.queryPage(sessionId, first.responseDetails.next_page);
    assert.deepEqual(
      second.data.map((r) => r.id),
      [104, 105, 106],
    );
    await assert.rejects(c.queryPage(sessionId, 'http://evil.example/api/v25.2/query/x'), /not a query page/);
  });

  it('shows each user only the rows Vault lets them see', async () => {
    const c = client();
    const mgr = await c.auth(QA_MANAGER, SIM_PASSWORD);
    const spec = await c.auth(QA_SPECIALIST, SIM_PASSWORD);
    const q = 'SELECT id FROM documents';
    const mgrIds = (await c.query(mgr.sessionId, q)).data.map((r) => r.id);
    const specIds = (await c.query(spec.sessionId, q)).data.map((r) => r.id);
    assert.equal(mgrIds.length, 8);
    assert.deepEqual(specIds.sort(), [101, 103, 106, 107]);
    await assert.rejects(c.getDocument(spec.sessionId, 102), (e: unknown) => isVaultError(e, 'INVALID_DATA'));
  });

  it('backs off and retries on HTTP 429, honouring Retry-After', async () => {
    const c = client();
    const { sessionId } = await c.auth(QA_MANAGER, SIM_PASSWORD);
    sleeps.length = 0;
    const before = sim.counters.requests;
    sim.setFault({ kind: 'http429', times: 2, retryAfterSeconds: 1 });
    const page = await c.query(sessionId, 'SELECT id FROM documents');
    assert.equal(page.data.length, 8);
    assert.equal(sim.counters.requests - before, 3);
    assert.deepEqual(sleeps, [1000, 1000]);
  });

  it('retries API_LIMIT_EXCEEDED a bounded number of times, then fails with the Vault type', async () => {
    const c = client();
    const { sessionId } = await c.auth(QA_MANAGER, SIM_PASSWORD);
    sim.setFault({ kind: 'api_limit_exceeded', times: 10 });
    const before = sim.counters.requests;
    await assert.rejects(
      c.keepAlive(sessionId),
      (e: unknown) => isVaultError(e, 'API_LIMIT_EXCEEDED') && e.code === 'ERR_VAULT_RATE_LIMITED',
    );
    assert.equal(sim.counters.requests - before, 4);
    sim.setFault(null);
  });

  it('times out a call that does not answer', async () => {
    const c = createVaultClient({ url: sim.url, apiVersion: 'v25.2', clientId: 't', timeoutMs: 100 });
    sim.setFault({ kind: 'delay', times: 1, ms: 1000 });
    await assert.rejects(
      c.auth(QA_MANAGER, SIM_PASSWORD),
      (e: unknown) => isVaultError(e, 'TIMEOUT') && e.code === 'ERR_VAULT_UNAVAILABLE',
    );
  });

  it('reads the burst limit headers', async () => {
    const c = client();
    await c.auth(QA_MANAGER, SIM_PASSWORD);
    assert.equal(c.limits().burstLimit, 2000);
    assert.ok((c.limits().burstRemaining ?? 0) > 0);
  });

  it('adds no throttle of its own when the burst window is used up: Vault already delays those calls', async () => {
    const small = await startVaultSimulator({ burstLimit: 3, throttleDelayMs: 40 });
    try {
      const waits: number[] = [];
      const c = createVaultClient({
        url: small.url,
        apiVersion: 'v25.2',
        clientId: 't',
        backoffBaseMs: 25,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      });
      const { sessionId } = await c.auth(QA_MANAGER, SIM_PASSWORD);
      await c.keepAlive(sessionId);
      await c.keepAlive(sessionId); // uses the last call of the window
      assert.equal(c.limits().burstRemaining, 0);
      const t = performance.now();
      await c.keepAlive(sessionId); // over the limit: Vault delays the answer (X-VaultAPI-ResponseDelay)
      await c.keepAlive(sessionId);
      assert.deepEqual(waits, [], 'the client did not pause on top of the delay');
      assert.equal(c.limits().responseDelayMs, 40);
      assert.ok(performance.now() - t >= 80, 'Vault delayed the two over-limit calls');
    } finally {
      await small.close();
    }
  });

  it('refuses a login that Vault defaulted to another Vault of the domain', async () => {
    const body = {
      responseStatus: 'SUCCESS',
      sessionId: 'S',
      userId: 1,
      vaultId: 2,
      vaultIds: [
        { id: 1, name: 'QualityDocs', url: 'https://acme-qd.veevavault.com/api' },
        { id: 2, name: 'PromoMats', url: 'https://acme-pm.veevavault.com/api' },
      ],
    };
    let sent = '';
    const c = createVaultClient({
      url: 'https://acme-qd.veevavault.com',
      apiVersion: 'v25.2',
      clientId: 't',
      fetch: (_u: unknown, init?: RequestInit) => {
        sent = typeof init?.body === 'string' ? init.body : '';
        return Promise.resolve(
          new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }),
        );
      },
    });
    await assert.rejects(
      c.auth('a@acme.com', 'pw'),
      (e: unknown) => isVaultError(e, 'WRONG_VAULT') && e.code === 'ERR_VAULT_AUTH',
    );
    assert.match(sent, /vaultDNS=acme-qd\.veevavault\.com/);
  });

  it("document links use the tenant's Vault URL when the tenant names another host than the simulator's", async () => {
    // The simulator listens on 127.0.0.1 and answers links on its internal host; the tenant calls it localhost.
    const alias = sim.url.replace('127.0.0.1', 'localhost');
    const c = createVaultClient({ url: alias, apiVersion: 'v25.2', clientId: 't' });
    const { sessionId } = await c.auth(QA_MANAGER, SIM_PASSWORD);
    const doc = await c.getDocument(sessionId, 101);
    const links = [
      ...Object.values(doc.renditions as Record<string, string>),
      ...(doc.versions as { value: string }[]).map((v) => v.value),
    ];
    assert.ok(links.length >= 2);
    for (const link of links) {
      assert.equal(new URL(link).origin, alias, link);
      assert.match(new URL(link).pathname, /^\/api\/v25\.2\/objects\/documents\/101\//);
    }
  });

  it('keeps alive and ends a session', async () => {
    const c = client();
    const { sessionId } = await c.auth(QA_MANAGER, SIM_PASSWORD);
    await c.keepAlive(sessionId);
    await c.endSession(sessionId);
    await assert.rejects(c.keepAlive(sessionId), (e: unknown) => isVaultError(e, 'INVALID_SESSION_ID'));
  });
});
