/**
 * The Postgres session store's login lease: one login per key across replicas, no connection held
 * while the login runs, a failed login hands over at once, a crashed holder's lease expires.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import type { AppError } from '../../src/errors/index.js';
import { withTenant } from '../../src/db/with-tenant.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { isVaultError, loginLimitError } from '../../src/vault/errors.js';
import { sessionKey } from '../../src/vault/session-cache.js';
import { createPgSessionStore } from '../../src/vault/session-store-pg.js';
import type { NewSession } from '../../src/vault/session-store.js';
import { createTenantDb, makeTenant, provisionTenant, SA_AUTH, TEST_SECRET_KEY } from '../helpers/vault.js';

const cipher = createSessionCipher(TEST_SECRET_KEY);
const always = () => true;
const fresh = (id: string): NewSession => ({ sessionId: id, vaultUserId: '1', expiresAt: Date.now() + 3_600_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Postgres session store: login lease', () => {
  let env: Awaited<ReturnType<typeof createTenantDb>>;
  let tenant: Tenant;
  const pools: Pool[] = [];
  const pool = (max = 2) => {
    const p = createPool({ url: env.db.url, max, statementTimeoutMs: 15_000 });
    pools.push(p);
    return p;
  };

  before(async () => {
    env = await createTenantDb();
    tenant = makeTenant('https://acme.veevavault.com', SA_AUTH, 'lease');
    await provisionTenant(env.pool, tenant);
  });
  after(async () => {
    for (const p of pools) await p.end();
    await env?.close();
  });

  it('five replicas, one login; no replica holds a connection while it runs', async () => {
    const key = sessionKey(tenant, 'service_account', null);
    const stores = Array.from({ length: 5 }, () => pool(1)).map((p) => ({
      p,
      store: createPgSessionStore({ pool: p, cipher }),
    }));
    let logins = 0;
    const holderBusy: number[] = [];
    const results = await Promise.all(
      stores.map(({ p, store }) =>
        store.getOrCreate(tenant, key, always, async () => {
          logins++;
          for (let i = 0; i < 5; i++) {
            await sleep(30);
            holderBusy.push(p.totalCount - p.idleCount);
          }
          return fresh('S-ONE');
        }),
      ),
    );
    assert.equal(logins, 1);
    assert.deepEqual(new Set(results.map((r) => r.sessionId)), new Set(['S-ONE']));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.deepEqual(holderBusy, [0, 0, 0, 0, 0], "the logging-in replica's connection is back in its pool");
    const { rows } = await withTenant(env.pool, tenant.schema, (tx) => tx.query('SELECT 1 FROM vault_login_leases'));
    assert.equal(rows.length, 0, 'the lease is gone');
  });

  it('a failed login releases the lease at once: a waiting replica logs in itself', async () => {
    const key = sessionKey(tenant, 'delegated', 'user-fail');
    const a = createPgSessionStore({ pool: pool(), cipher });
    const b = createPgSessionStore({ pool: pool(), cipher });
    let loggingIn!: () => void;
    const inLogin = new Promise<void>((r) => (loggingIn = r));
    const first = a.getOrCreate(tenant, key, always, async () => {
      loggingIn();
      await sleep(100);
      throw new Error('Vault said no');
    });
    await inLogin; // a holds the lease
    const started = performance.now();
    const second = b.getOrCreate(tenant, key, always, () => Promise.resolve(fresh('S-B')));
    await assert.rejects(first, /Vault said no/);
    assert.equal((await second).sessionId, 'S-B');
    assert.ok(performance.now() - started < 2_000);
  });

  it('connections dropped while the lease is held: the live holder releases it once the database is back, nobody waits out the lease', async () => {
    const key = sessionKey(tenant, 'delegated', 'user-dropped');
    const app = 'vmcp-test-lease-drop';
    const dropping = createPool({ url: env.db.url, max: 2, statementTimeoutMs: 15_000, applicationName: app });
    pools.push(dropping);
    const a = createPgSessionStore({ pool: dropping, cipher, leaseMs: 60_000 });
    const b = createPgSessionStore({ pool: pool(), cipher, leaseMs: 60_000 });
    // ALLOW_CONNECTIONS cannot be changed from inside the database itself: an admin connection elsewhere.
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const name = pg.escapeIdentifier(new URL(env.db.url).pathname.slice(1));
    const allow = (on: boolean) => admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS ${on}`);
    try {
      // While `a` logs in, its connections are killed and no new ones are accepted, so its release fails.
      await assert.rejects(
        a.getOrCreate(tenant, key, always, async () => {
          await allow(false);
          await env.pool.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
            [app],
          );
          throw new Error('Vault said no');
        }),
        /Vault said no/,
      );
      const { rows: held } = await withTenant(env.pool, tenant.schema, (tx) =>
        tx.query('SELECT 1 FROM vault_login_leases WHERE key = $1', ['dg:user-dropped']),
      );
      assert.equal(held.length, 1, 'the release failed: the lease is still there');
    } finally {
      await allow(true);
      await admin.end();
    }
    const started = performance.now();
    const s = await Promise.race([
      b.getOrCreate(tenant, key, always, () => Promise.resolve(fresh('S-AFTER-DROP'))),
      sleep(10_000).then(() => assert.fail('still waiting for the lease after 10 s')),
    ]);
    assert.equal(s.sessionId, 'S-AFTER-DROP');
    const waited = performance.now() - started;
    assert.ok(waited < 5_000, `waited ${waited.toFixed(0)} ms`);
  });

  it("Vault's login limit on one replica makes the others answer the same retryable error, without logging in", async () => {
    const key = sessionKey(tenant, 'service_account', null);
    const limitedTenant: Tenant = { ...tenant, vault: { ...tenant.vault, url: 'https://acme-limited.veevavault.com' } };
    const limitedKey = sessionKey(limitedTenant, key.kind, key.subject);
    const a = createPgSessionStore({ pool: pool(), cipher });
    const b = createPgSessionStore({ pool: pool(), cipher });
    await assert.rejects(
      a.getOrCreate(limitedTenant, limitedKey, always, () => Promise.reject(loginLimitError(30))),
      (e: unknown) => isVaultError(e, 'API_LIMIT_EXCEEDED'),
    );
    let called = false;
    const started = performance.now();
    await assert.rejects(
      b.getOrCreate(limitedTenant, limitedKey, always, () => {
        called = true;
        return Promise.resolve(fresh('S-TOO-SOON'));
      }),
      (e: unknown) => {
        assert.ok(isVaultError(e, 'API_LIMIT_EXCEEDED'));
        assert.equal(e.code, 'ERR_VAULT_RATE_LIMITED');
        const left = Number(e.details.retryAfter);
        assert.ok(left >= 28 && left <= 30, `retry in ${left} s`);
        return true;
      },
    );
    assert.equal(called, false, 'the other replica did not call Vault');
    assert.ok(performance.now() - started < 1_000, 'answered at once');
    // Once the window has passed, a login is tried again.
    await withTenant(env.pool, tenant.schema, (tx) =>
      tx.query("UPDATE vault_login_leases SET expires_at = now() - interval '1 second' WHERE key = 'sa'"),
    );
    assert.equal(
      (await b.getOrCreate(limitedTenant, limitedKey, always, () => Promise.resolve(fresh('S-LATER')))).sessionId,
      'S-LATER',
    );
  });

  it("a caller waits for another replica's login at most maxWaitMs, then gets a retryable error, not a hang", async () => {
    const key = sessionKey(tenant, 'oauth', 'user-slow-holder');
    // A holder that is alive or crashed, we cannot tell: its lease has a minute left.
    await withTenant(env.pool, tenant.schema, (tx) =>
      tx.query(
        "INSERT INTO vault_login_leases (key, holder, expires_at) VALUES ($1, 'slow-replica', now() + interval '60 seconds')",
        ['oa:user-slow-holder'],
      ),
    );
    const store = createPgSessionStore({ pool: pool(), cipher, maxPollMs: 50, maxWaitMs: 400 });
    const started = performance.now();
    let loggedIn = false;
    const e = await store
      .getOrCreate(tenant, key, always, () => {
        loggedIn = true;
        return Promise.resolve(fresh('S-NEVER'));
      })
      .then(
        () => assert.fail('expected a refusal'),
        (err: unknown) => err as AppError,
      );
    const waited = performance.now() - started;
    assert.equal(e.code, 'ERR_VAULT_UNAVAILABLE');
    assert.match(e.message, /another server replica .* retry shortly/);
    assert.equal(e.details.retryAfter, 5);
    assert.equal(loggedIn, false, 'did not log in while another replica holds the lease');
    assert.ok(waited >= 300 && waited < 2_000, `answered after ${waited.toFixed(0)} ms`);
  });

  it("a crashed holder's lease expires and another replica takes over", async () => {
    const key = sessionKey(tenant, 'oauth', 'user-crash');
    await withTenant(env.pool, tenant.schema, (tx) =>
      tx.query(
        "INSERT INTO vault_login_leases (key, holder, expires_at) VALUES ($1, 'crashed-replica', now() + interval '400 milliseconds')",
        ['oa:user-crash'],
      ),
    );
    const store = createPgSessionStore({ pool: pool(), cipher, maxPollMs: 50 });
    const started = performance.now();
    const s = await store.getOrCreate(tenant, key, always, () => Promise.resolve(fresh('S-TAKEOVER')));
    const waited = performance.now() - started;
    assert.equal(s.sessionId, 'S-TAKEOVER');
    assert.ok(waited >= 300, `waited for the lease (${waited.toFixed(0)} ms)`);
  });

  it('a stored session of another Vault URL is not returned, and is replaced', async () => {
    const store = createPgSessionStore({ pool: pool(), cipher });
    const onA = sessionKey(tenant, 'service_account', null);
    const moved: Tenant = { ...tenant, vault: { ...tenant.vault, url: 'https://acme-new.veevavault.com' } };
    const onB = sessionKey(moved, 'service_account', null);
    const onOld = await store.getOrCreate(tenant, onA, always, () => Promise.resolve(fresh('S-A')));
    let loggedIn = false;
    const s = await store.getOrCreate(moved, onB, always, () => {
      loggedIn = true;
      return Promise.resolve(fresh('S-NEW'));
    });
    assert.equal(s.sessionId, 'S-NEW');
    assert.notEqual(onOld.sessionId, s.sessionId);
    assert.ok(loggedIn);
    await store.touch(tenant, onA, Date.now()); // a late touch from the old URL changes nothing
    assert.equal(await store.remove(tenant, onA), undefined, 'the old URL finds no session to remove');
  });
});
