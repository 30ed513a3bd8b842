/**
 * The API-key cache (issue 14): verified rows are reused while a LISTEN connection is up, every key
 * change reaches every replica through NOTIFY, refusals are answered without Postgres, and a lost
 * listener turns the cache off (fail closed) until it is back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApiKeyVerifier, type ApiKeyVerifier } from '../../src/auth/api-key-verifier.js';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config/index.js';
import { createNotifyListener } from '../../src/db/notify-listener.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { AuthError } from '../../src/errors/index.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pool whose `query` calls are counted (what reached Postgres). */
function counting(pool: Pool): { pool: Pool; reads: () => number } {
  let n = 0;
  const wrapped = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (...args: unknown[]) => {
          if (String(args[0]).includes('FROM control.api_keys')) n++;
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { pool: wrapped, reads: () => n };
}

async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await sleep(10);
  }
  return performance.now() - t0;
}

const refused = (v: ApiKeyVerifier, key: string) =>
  v.verify(key).then(
    () => false,
    (e: unknown) => e instanceof AuthError,
  );

describe('API-key cache', () => {
  let s: TestServer;
  let admin: Pool;
  const open: { close(): Promise<void> }[] = [];

  before(async () => {
    s = await startTestServer({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0' });
    admin = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
  });
  after(async () => {
    for (const o of open.reverse()) await o.close();
    await admin?.end();
    await s?.close();
  });

  /** One "replica": its own pool, its own LISTEN connection, its own verifier. */
  async function replica(opts: { ttlMs?: number } = {}) {
    const pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
    const listener = createNotifyListener({ url: s.db.url, channels: ['vault_mcp_api_keys'] });
    const c = counting(pool);
    const verifier = createApiKeyVerifier({
      pool: c.pool,
      issuer: 'http://test',
      cache: { listener, ttlMs: opts.ttlMs ?? 30_000, negativeTtlMs: 10_000, maxEntries: 1000 },
    });
    open.push({ close: () => pool.end() }, listener, verifier);
    assert.equal(await listener.ready(5000), true, 'the listener connects');
    const notified: string[] = [];
    listener.on((_ch, id) => notified.push(id));
    /** Create a key and wait for its INSERT notification (a read it may overtake is not cached). */
    const create = async (name: string, scopes = ['vault:read']) => {
      const k = await createApiKey(admin, { tenantId: 'acme', name, scopes });
      await until(() => notified.includes(k.info.id), 1000);
      return k;
    };
    return { verifier, listener, reads: c.reads, notified, create };
  }

  it('serves repeated verifications of a key from memory', async () => {
    const r = await replica();
    const { key } = await r.create('hot');
    const users = await Promise.all(Array.from({ length: 20 }, () => r.verifier.verify(key)));
    for (let i = 0; i < 30; i++) users.push(await r.verifier.verify(key));
    assert.equal(r.reads(), 1, 'one Postgres read for 50 verifications (concurrent first calls share it)');
    assert.ok(users.every((u) => u.tenantId === 'acme' && u.scopes.join() === 'vault:read'));
    // Callers get their own copy of the scopes: mutating one cannot change the cached row.
    users[0]!.scopes.push('vault:write');
    assert.deepEqual((await r.verifier.verify(key)).scopes, ['vault:read']);
  });

  it('a revoked key is refused on another replica within one second', async () => {
    const a = await replica();
    const b = await replica();
    const { key, info } = await b.create('to revoke');
    await a.verifier.verify(key);
    await b.verifier.verify(key);
    const readsBefore = b.reads();
    await b.verifier.verify(key);
    assert.equal(b.reads(), readsBefore, 'replica B serves the key from its cache');
    await revokeApiKey(admin, info.id);
    const ms = await until(() => refused(b.verifier, key), 1000);
    assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
    await assert.rejects(b.verifier.verify(key), new RegExp(`The API key ${info.id} has been revoked`));
    assert.equal(await refused(a.verifier, key), true);
  });

  it('other changes reach every replica too: scopes, expiry, deletion', async () => {
    const r = await replica();
    const { key, info } = await createApiKey(admin, { tenantId: 'acme', name: 'changing', scopes: ['vault:read'] });
    assert.deepEqual((await r.verifier.verify(key)).scopes, ['vault:read']);
    await admin.query("UPDATE control.api_keys SET scopes = '{vault:read,vault:vql}' WHERE id = $1", [info.id]);
    await until(async () => (await r.verifier.verify(key)).scopes.length === 2, 1000);
    await admin.query("UPDATE control.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [info.id]);
    await until(() => refused(r.verifier, key), 1000);
    await assert.rejects(r.verifier.verify(key), /expired at/);
    await admin.query('DELETE FROM control.api_keys WHERE id = $1', [info.id]);
    await until(async () => {
      const e = await r.verifier.verify(key).catch((x: Error) => x);
      return e instanceof AuthError && e.message === 'The API key is not valid';
    }, 1000);
  });

  it('last_used_at bookkeeping does not evict the cache', async () => {
    const r = await replica();
    const { key, info } = await r.create('used');
    await r.verifier.verify(key);
    const seen = r.notified.length;
    await admin.query('UPDATE control.api_keys SET last_used_at = now() WHERE id = $1', [info.id]);
    await sleep(200);
    assert.equal(r.notified.length, seen, 'no notification for a last_used_at-only change');
    const reads = r.reads();
    await r.verifier.verify(key);
    assert.equal(r.reads(), reads);
  });

  it('floods of bad keys do not reach Postgres: unknown id, wrong secret, revoked key', async () => {
    const r = await replica();
    const unknown = `vmcp_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
    const { key, info } = await r.create('real');
    const wrong = `vmcp_${info.id}_${randomBytes(32).toString('base64url')}`;
    const revoked = await createApiKey(admin, { tenantId: 'acme', name: 'gone', scopes: ['vault:read'] });
    await revokeApiKey(admin, revoked.info.id);
    await until(() => r.notified.filter((id) => id === revoked.info.id).length === 2, 1000);
    const before = r.reads();
    for (let i = 0; i < 100; i++) {
      for (const bad of [unknown, wrong, revoked.key]) assert.equal(await refused(r.verifier, bad), true);
    }
    assert.equal(r.reads() - before, 3, 'one read per distinct key id, then answered from memory');
    assert.equal((await r.verifier.verify(key)).tenantId, 'acme', 'the real secret still works');
    assert.equal(r.reads() - before, 3, 'the wrong secret had already cached the row of the real key');
  });

  it('a lost LISTEN connection turns the cache off at once and it comes back after reconnecting', async () => {
    const r = await replica();
    const { key, info } = await createApiKey(admin, { tenantId: 'acme', name: 'outage', scopes: ['vault:read'] });
    await r.verifier.verify(key);
    // Kill the listener's backend (as a Postgres restart or failover would) and, while it reconnects,
    // revoke the key: the notification is lost, so the cache must not answer from memory.
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vault-mcp-listen' AND datname = current_database()",
    );
    await until(() => !r.listener.listening, 2000);
    await admin.query('UPDATE control.api_keys SET revoked_at = now() WHERE id = $1', [info.id]);
    assert.equal(await refused(r.verifier, key), true, 'refused: read from Postgres while the listener is down');
    await until(() => r.listener.listening, 5000);
    const fresh = await r.create('after');
    await r.verifier.verify(fresh.key);
    const reads = r.reads();
    await r.verifier.verify(fresh.key);
    assert.equal(r.reads(), reads, 'cached again once the listener is back');
  });

  it('without a listener (API_KEY_CACHE_SECONDS=0 or none given) every verification reads Postgres', async () => {
    const c = counting(admin);
    const v = createApiKeyVerifier({ pool: c.pool, issuer: 'http://test' });
    open.push(v);
    const { key } = await createApiKey(admin, { tenantId: 'acme', name: 'nocache', scopes: ['vault:read'] });
    for (let i = 0; i < 5; i++) await v.verify(key);
    assert.equal(c.reads(), 5);
  });

  it('two full replicas (start()) on one database: revocation through the admin pool is refused on both within one second', async () => {
    const replicas: Running[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const config = loadConfig({
          NODE_ENV: 'test',
          PORT: String(await freePort()),
          PUBLIC_URL: 'http://127.0.0.1:1',
          ALLOWED_HOSTS: '127.0.0.1',
          DATABASE_URL: s.db.url,
          OIDC_ISSUER: s.issuer.issuer,
          SECRET_KEY: 'r'.repeat(32),
          RATE_LIMIT_PER_MINUTE: '0',
          DB_POOL_MAX: '3',
          MIGRATE_ON_BOOT: 'false',
          LOG_LEVEL: 'silent',
        });
        replicas.push(await start(config, { log: createLogger({ level: 'silent' }) }));
      }
      const { key, info } = await createApiKey(admin, { tenantId: 'acme', name: 'replicated', scopes: ['vault:read'] });
      // Warm both replicas (and give their listeners time to connect).
      await until(async () => {
        for (const r of replicas) if ((await postWithToken(r.url, key)).status !== 200) return false;
        return true;
      }, 5000);
      await sleep(300);
      for (const r of replicas) assert.equal((await postWithToken(r.url, key)).status, 200);
      await revokeApiKey(admin, info.id);
      for (const r of replicas) {
        const ms = await until(async () => (await postWithToken(r.url, key)).status === 401, 1000);
        assert.ok(ms < 1000);
        await assert401(await postWithToken(r.url, key), `The API key ${info.id} has been revoked`);
      }
    } finally {
      for (const r of replicas) await r.close();
    }
  });
});
