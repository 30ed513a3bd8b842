/**
 * Our own access tokens in the verified-JWT cache: ending a grant (any writer of control.oauth_grants)
 * notifies every replica, which drops that grant's tokens at once and keeps the others; a replica that
 * is not certainly listening trusts a cached token for a short bound only. Real Postgres, real
 * LISTEN connections, real signed tokens and grants; each "replica" has its own pool and listener.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey } from 'jose';
import { createTokenVerifier } from '../../src/auth/create-verifier.js';
import { createOwnIssuerVerifier, OAUTH_GRANTS_CHANNEL } from '../../src/auth/own-issuer-verifier.js';
import { createNotifyListener, type NotifyListener } from '../../src/db/notify-listener.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { AuthError } from '../../src/errors/index.js';
import { createGrantStore, type GrantStore } from '../../src/oauth/grants.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { freePort, startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.js';

const ISSUER = 'https://as.test';
const AUDIENCE = 'https://as.test/mcp';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await sleep(10);
  }
  return performance.now() - t0;
}

/** A pool whose reads of control.oauth_grants are counted (what reached Postgres). */
function counting(pool: Pool): { pool: Pool; reads: () => number } {
  let n = 0;
  const wrapped = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (...args: unknown[]) => {
          if (/SELECT[\s\S]*FROM control\.oauth_grants/.test(String(args[0]))) n++;
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { pool: wrapped, reads: () => n };
}

describe('own access tokens: grant revocation reaches every replica', () => {
  let s: TestServer;
  let admin: Pool;
  let adminGrants: GrantStore;
  let signingKey: CryptoKey;
  let publicKey: CryptoKey;
  const open: { close(): Promise<void> }[] = [];

  before(async () => {
    s = await startTestServer({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0' });
    admin = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000, tenantRoles: false });
    adminGrants = createGrantStore({
      pool: admin,
      cipher: createSessionCipher(TEST_SECRET_KEY),
      refreshTtlSeconds: 3600,
    });
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    publicKey = (await importJWK(await exportJWK(pair.publicKey), 'ES256')) as CryptoKey;
  });
  after(async () => {
    for (const o of open.reverse()) await o.close();
    await admin?.end();
    await s?.close();
  });

  /** A grant in control.oauth_grants and an access token of it, as the token endpoint issues them. */
  async function grantAndToken(): Promise<{ grantId: string; token: string }> {
    const { grantId } = await adminGrants.create({
      clientId: 'client-1',
      clientName: 'Test client',
      subject: `u-${randomBytes(4).toString('hex')}`,
      tenantId: 'acme',
      upstream: 'oidc',
      identity: {
        subject: 'u-1',
        provider: 'oidc',
        issuer: 'https://idp.test',
        email: 'qa.manager@acme.com',
        emailVerified: true,
        upstreamTokens: { accessToken: 'unused' },
      },
      scopes: ['vault:read'],
      resource: AUDIENCE,
      redirectUri: 'http://127.0.0.1:9/callback',
      redirectGiven: true,
      codeChallenge: 'x'.repeat(43),
      codeTtlSeconds: 60,
      keepUpstreamTokens: false,
    });
    const token = await new SignJWT({
      email: 'qa.manager@acme.com',
      email_verified: true,
      tenant: 'acme',
      scope: 'vault:read',
      client_id: 'client-1',
      grant_id: grantId,
      idp: 'oidc',
      idp_iss: 'https://idp.test',
      jti: randomBytes(16).toString('base64url'),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('oidc:https://idp.test|u-1')
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(signingKey);
    return { grantId, token };
  }

  /**
   * One "replica": its own pool, LISTEN connection (or `listener`), grant store and verifier stack, as
   * from-config wires them. `holdReads` delays every grant read's answer.
   */
  async function replica(name: string, opts: { listener?: NotifyListener; unheardTtlMs?: number } = {}) {
    const pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000, tenantRoles: false });
    const c = counting(pool);
    const grants = createGrantStore({
      pool: c.pool,
      cipher: createSessionCipher(TEST_SECRET_KEY),
      refreshTtlSeconds: 3600,
    });
    const listener =
      opts.listener ??
      createNotifyListener({ url: s.db.url, channels: [OAUTH_GRANTS_CHANNEL], applicationName: `vmcp-test-${name}` });
    open.push({ close: () => pool.end() }, listener);
    const notified: string[] = [];
    listener.on((_ch, id) => notified.push(id));
    let hold: Promise<void> | undefined;
    let answered = 0;
    const own = createOwnIssuerVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: () => Promise.resolve(publicKey),
      algorithms: ['ES256'],
      clockSkewSeconds: 30,
      grantStatus: async (id) => {
        const g = await grants.get(id);
        answered++;
        await hold;
        return g && { revoked: g.revokedAt !== null, revokedReason: g.revokedReason, upstream: g.upstream };
      },
      resolveTenant: () => Promise.resolve({ id: 'acme', name: 'Acme Pharma' } as Tenant),
    });
    const verifier = createTokenVerifier({
      jwt: [own],
      maxTokenBytes: 16384,
      jwtCache: {
        ttlMs: 60_000,
        negativeTtlMs: 10_000,
        maxEntries: 1000,
        revocable: {
          keyOf: (u) => u.grantId,
          listener,
          channel: OAUTH_GRANTS_CHANNEL,
          unheardTtlMs: opts.unheardTtlMs ?? 5000,
        },
      },
    });
    if (!opts.listener) assert.equal(await listener.ready(5000), true, 'the listener connects');
    const refused = (token: string) =>
      verifier.verify(token).then(
        () => false,
        (e: unknown) => e instanceof AuthError,
      );
    return {
      verifier,
      listener,
      grants,
      reads: c.reads,
      /** Grant reads Postgres has answered. */
      answered: () => answered,
      notified,
      refused,
      holdReads: (p: Promise<void> | undefined) => {
        hold = p;
      },
    };
  }

  it('serves repeated verifications of a token from memory while listening (no Postgres read per request)', async () => {
    const r = await replica('hot');
    const { token, grantId } = await grantAndToken();
    const users = await Promise.all(Array.from({ length: 20 }, () => r.verifier.verify(token)));
    for (let i = 0; i < 30; i++) users.push(await r.verifier.verify(token));
    assert.equal(r.reads(), 1, 'one grant read for 50 verifications');
    assert.ok(users.every((u) => u.grantId === grantId && u.email === 'qa.manager@acme.com'));
  });

  it('a grant revoked through replica A is refused on replica B within one second; a token of another grant is not touched', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const revoked = await grantAndToken();
    const kept = await grantAndToken();
    for (const r of [a, b]) for (const t of [revoked.token, kept.token]) await r.verifier.verify(t);
    const readsBefore = b.reads();
    await b.verifier.verify(revoked.token);
    await b.verifier.verify(kept.token);
    assert.equal(b.reads(), readsBefore, 'replica B serves both tokens from its cache');

    const [g] = await a.grants.revoke({ id: revoked.grantId }, 'admin_revoked');
    assert.equal(g?.id, revoked.grantId);
    const ms = await until(() => b.refused(revoked.token), 1000);
    assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
    await assert.rejects(b.verifier.verify(revoked.token), /The grant behind this token was revoked \(admin_revoked\)/);
    assert.equal(await a.refused(revoked.token), true, 'and on replica A');

    const reads = b.reads();
    assert.equal((await b.verifier.verify(kept.token)).grantId, kept.grantId);
    assert.equal(b.reads(), reads, "the other grant's token is still served from the cache");
  });

  it('a deleted grant (its tenant removed) is dropped too; last_used_at bookkeeping notifies nothing', async () => {
    const r = await replica('delete');
    const { token, grantId } = await grantAndToken();
    await r.verifier.verify(token);
    const seen = r.notified.length;
    await admin.query('UPDATE control.oauth_grants SET last_used_at = now() WHERE id = $1', [grantId]);
    await sleep(200);
    assert.equal(r.notified.length, seen, 'no notification for a last_used_at-only change');
    const reads = r.reads();
    await r.verifier.verify(token);
    assert.equal(r.reads(), reads, 'still cached');
    await admin.query('DELETE FROM control.oauth_grants WHERE id = $1', [grantId]);
    await until(() => r.refused(token), 1000);
    await assert.rejects(r.verifier.verify(token), /The grant behind this token does not exist/);
  });

  it('a verification that a revocation overtook is not cached', async () => {
    const r = await replica('race');
    const { token, grantId } = await grantAndToken();
    // The grant is read (active), then the revocation commits and is heard before the answer returns.
    let release!: () => void;
    r.holdReads(new Promise<void>((resolve) => (release = resolve)));
    const slow = r.verifier.verify(token);
    await until(() => r.answered() === 1, 1000);
    await adminGrants.revoke({ id: grantId }, 'refresh_reuse');
    await until(() => r.notified.includes(grantId), 1000);
    r.holdReads(undefined);
    release();
    assert.equal((await slow).grantId, grantId, 'the request in flight read the grant before its revocation');
    await assert.rejects(r.verifier.verify(token), /revoked \(refresh_reuse\)/);
    assert.equal(r.reads(), 2, 'the next verification read the grant again');
  });

  it('while not listening, a verified token is trusted for the short bound only (fail closed)', async () => {
    // A listener that stays down. (A real one that cannot connect also drops the cache at each failed
    // attempt, which would hide the bound under test here.)
    const down: NotifyListener = {
      listening: false,
      generation: 1,
      on: () => undefined,
      ready: () => Promise.resolve(false),
      close: () => Promise.resolve(),
    };
    const r = await replica('deaf', { listener: down, unheardTtlMs: 400 });
    const { token, grantId } = await grantAndToken();
    await r.verifier.verify(token);
    const cachedAt = performance.now();
    await r.verifier.verify(token);
    assert.equal(r.reads(), 1, 'cached, for the bound');
    await adminGrants.revoke({ id: grantId }, 'admin_revoked');
    assert.equal(await r.refused(token), false, 'a revocation it cannot hear: the cached verification still answers');
    await until(() => r.refused(token), 2000);
    const trusted = performance.now() - cachedAt;
    assert.ok(trusted < 400 + 250, `the revoked token was trusted for ${trusted.toFixed(0)} ms, bound 400 ms`);
    await assert.rejects(r.verifier.verify(token), /revoked \(admin_revoked\)/);

    const other = await grantAndToken();
    await r.verifier.verify(other.token);
    const reads = r.reads();
    await sleep(450);
    await r.verifier.verify(other.token);
    assert.equal(r.reads(), reads + 1, 'past the bound, the grant is read again');
  });

  it('a listener that cannot connect never lets a token be cached past the bound', async () => {
    const deaf = createNotifyListener({
      url: `postgres://postgres@127.0.0.1:${await freePort()}/x`,
      channels: [OAUTH_GRANTS_CHANNEL],
    });
    const r = await replica('unreachable', { listener: deaf, unheardTtlMs: 400 });
    open.push(deaf);
    const { token, grantId } = await grantAndToken();
    await r.verifier.verify(token);
    const cachedAt = performance.now();
    await adminGrants.revoke({ id: grantId }, 'admin_revoked');
    await until(() => r.refused(token), 2000);
    assert.equal(deaf.listening, false);
    assert.ok(performance.now() - cachedAt < 400 + 250);
  });

  it('a lost LISTEN connection drops cached tokens at once; they are cached again once it is back', async () => {
    const r = await replica('outage');
    const { token, grantId } = await grantAndToken();
    await r.verifier.verify(token);
    await r.verifier.verify(token);
    assert.equal(r.reads(), 1);
    // Kill the listener's backend (a Postgres restart or failover would) and revoke while it reconnects:
    // the notification is lost, so the cached verification must not be trusted past the bound.
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vmcp-test-outage' AND datname = current_database()",
    );
    await until(() => !r.listener.listening, 2000);
    await adminGrants.revoke({ id: grantId }, 'admin_revoked');
    assert.equal(await r.refused(token), true, 'refused at once: the loss dropped the cached verification');
    await until(() => r.listener.listening, 5000);
    const fresh = await grantAndToken();
    await r.verifier.verify(fresh.token);
    const reads = r.reads();
    await r.verifier.verify(fresh.token);
    assert.equal(r.reads(), reads, 'cached again once the listener is back');
  });
});
