/**
 * The in-memory Vault session cache is bounded (VAULT_SESSION_CACHE_MAX): past the cap the least
 * recently used sessions leave memory, and a user whose session was dropped is served from the
 * session store again, without a new Vault login. The Vault clients (one per tenant and Vault URL)
 * are bounded by the same cap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startVaultSimulator } from '../../src/dev/vault-sim/server.js';
import type { VaultClient } from '../../src/vault/client.js';
import { createSessionManager } from '../../src/vault/session-manager.js';
import { createMemorySessionStore, type SessionStore } from '../../src/vault/session-store.js';
import { ctxFor, makeTenant, SA_AUTH, SIM_SECRETS } from '../helpers/vault.js';

describe('Vault session cache cap', () => {
  it('keeps at most maxCached sessions in memory; evicted users come back from the store without a login', async () => {
    const tenant = makeTenant('https://vault.test', { mode: 'oauth', profileId: 'p1' });
    let logins = 0;
    const client = {
      oauthSession: (_profile: string, token: string) => {
        logins++;
        return Promise.resolve({ sessionId: `s-${token}`, userId: token.length });
      },
      endSession: () => Promise.resolve(),
    } as unknown as VaultClient;
    const base = createMemorySessionStore();
    let storeReads = 0;
    const store: SessionStore = {
      ...base,
      getOrCreate: (...args) => {
        storeReads++;
        return base.getOrCreate(...args);
      },
    };
    const m = createSessionManager({
      store,
      secrets: () => undefined,
      oauthToken: (ctx) => Promise.resolve(`tok-${ctx.user.email}`),
      clientFor: () => client,
      keepAliveIntervalMs: 0,
      maxCached: 3,
    });
    const call = (i: number) =>
      m.withSession(ctxFor(tenant, `user${i}@acme.com`), (s) => Promise.resolve(s.sessionId)).then((r) => r.value);
    for (let i = 0; i < 5; i++) assert.equal(await call(i), `s-tok-user${i}@acme.com`);
    assert.equal(logins, 5);
    assert.equal(storeReads, 5);
    // Users 2-4 are in memory: no store read.
    for (const i of [2, 3, 4]) await call(i);
    assert.equal(storeReads, 5, 'the three most recent users are served from memory');
    // User 0 was evicted: read back from the store, still no new Vault login.
    assert.equal(await call(0), 's-tok-user0@acme.com');
    assert.equal(storeReads, 6);
    assert.equal(logins, 5, 'an evicted session is not a new Vault login');
    await m.close();
  });

  it('keeps at most maxCached Vault clients; a dropped one is made again when its tenant calls', async () => {
    const sim = await startVaultSimulator();
    const m = createSessionManager({
      store: createMemorySessionStore(),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
      maxCached: 1,
    });
    try {
      const [a, b] = [makeTenant(sim.url, SA_AUTH, 'acme-a'), makeTenant(sim.url, SA_AUTH, 'acme-b')];
      const clientOf = (t: typeof a) =>
        m.withSession(ctxFor(t, 'user@acme.com'), (s) => Promise.resolve(s.client)).then((r) => r.value);
      const first = await clientOf(a);
      assert.equal(await clientOf(a), first, "a tenant's calls share its client");
      await clientOf(b); // the cap is 1: a's client leaves memory
      const again = await clientOf(a);
      assert.notEqual(again, first, 'a new client for a after it was dropped');
      const docs = await m.withSession(ctxFor(a, 'user@acme.com'), (s) =>
        s.client.query(s.sessionId, 'SELECT id FROM documents'),
      );
      assert.ok(docs.value.data.length > 0, 'and it works');
    } finally {
      await m.close();
      await sim.close();
    }
  });
});
