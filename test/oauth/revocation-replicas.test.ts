/**
 * Two full replicas (start()) of the authorization server on one database, with the verified-JWT cache
 * on (JWT_CACHE_SECONDS=60): a grant ended through replica A (RFC 7009 revocation, the grants CLI,
 * refresh-token reuse) is refused by replica B within one second, though B had the token cached;
 * tokens of other grants keep working. A replica that cannot LISTEN trusts a token for 5 s at most.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { UNHEARD_GRANT_TRUST_MS } from '../../src/auth/from-config.js';
import { loadConfig, type Env } from '../../src/config/index.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import { assert401, postWithToken } from '../helpers/http.js';
import {
  authorizeCode,
  exchange,
  fakeRegistry,
  publicClient,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';
import { freePort, TEST_SECRET_KEY } from '../helpers/server.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await sleep(10);
  }
  return performance.now() - t0;
}

const status = async (url: string, token: string) => {
  const res = await postWithToken(url, token);
  await res.body?.cancel();
  return res.status;
};

describe('authorization server: grant revocation across replicas', () => {
  let a: OAuthTestServer;
  let b: Running;
  let clientId: string;
  const others: Running[] = [];

  /** Another replica of `a`: same database, SECRET_KEY and issuer (PUBLIC_URL), its own port. */
  async function replica(env: Env = {}): Promise<Running> {
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      PUBLIC_URL: a.url,
      ALLOWED_HOSTS: '127.0.0.1',
      DATABASE_URL: a.db.url,
      OIDC_ISSUER: a.issuer.issuer,
      SECRET_KEY: TEST_SECRET_KEY,
      OAUTH_SERVER_ENABLED: 'true',
      RATE_LIMIT_PER_MINUTE: '0',
      DB_POOL_MAX: '3',
      MIGRATE_ON_BOOT: 'false',
      LOG_LEVEL: 'silent',
      ...env,
    });
    const r = await start(config, { log: createLogger({ level: 'silent' }), upstreams: fakeRegistry([a.upstream]) });
    others.push(r);
    return r;
  }

  /** A fresh grant's tokens, issued by replica A, and the grant id they carry. */
  async function signIn() {
    const t = await exchange(a, clientId, await authorizeCode(a, clientId));
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return { ...t.body, grantId: String(decodeJwt(t.body.access_token).grant_id) };
  }

  /** Verified (and so cached) on both replicas. */
  async function warm(token: string) {
    for (const url of [a.url, b.url]) assert.equal(await status(url, token), 200);
  }

  before(async () => {
    a = await startOAuthServer({ JWT_CACHE_SECONDS: '60', RATE_LIMIT_PER_MINUTE: '0' });
    clientId = await publicClient(a.url);
    b = await replica();
  });
  after(async () => {
    for (const r of others) await r.close();
    await a?.close();
  });

  it('RFC 7009 revocation through replica A: replica B refuses the cached token within one second, keeps another grant', async () => {
    const revoked = await signIn();
    const kept = await signIn();
    await warm(revoked.access_token);
    await warm(kept.access_token);
    const res = await fetch(`${a.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: revoked.refresh_token, client_id: clientId }),
    });
    assert.equal(res.status, 200);
    const ms = await until(async () => (await status(b.url, revoked.access_token)) === 401, 1000);
    assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
    await assert401(
      await postWithToken(b.url, revoked.access_token),
      'The grant behind this token was revoked (client_revoked); authorize again',
    );
    assert.equal(await status(a.url, revoked.access_token), 401);
    for (const url of [a.url, b.url]) assert.equal(await status(url, kept.access_token), 200, 'another grant');
  });

  it('the grants CLI and refresh-token reuse reach replica B within one second too', async () => {
    const byCli = await signIn();
    const reused = await signIn();
    const kept = await signIn();
    for (const t of [byCli, reused, kept]) await warm(t.access_token);

    const env = {
      ...process.env,
      DATABASE_URL: a.db.url,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      SECRET_KEY: TEST_SECRET_KEY,
    };
    const out = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/oauth.ts', 'grants', 'revoke', '--grant', byCli.grantId],
      {
        env,
      },
    );
    assert.match(out.stdout, /revoked 1 grant/);
    assert.ok((await until(async () => (await status(b.url, byCli.access_token)) === 401, 1000)) < 1000);
    await assert401(await postWithToken(b.url, byCli.access_token), /revoked \(admin_revoked\)/);

    const refresh = (token: string) =>
      tokenRequest(a.url, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });
    assert.equal((await refresh(reused.refresh_token)).status, 200);
    assert.equal((await refresh(reused.refresh_token)).body.error, 'invalid_grant', 'reuse revokes the grant');
    assert.ok((await until(async () => (await status(b.url, reused.access_token)) === 401, 1000)) < 1000);
    await assert401(await postWithToken(b.url, reused.access_token), /revoked \(refresh_reuse\)/);

    assert.equal(await status(b.url, kept.access_token), 200, 'another grant');
  });

  it('a replica that cannot LISTEN (DB_LISTEN_URL unreachable) trusts a verified token for a few seconds at most', async () => {
    const deaf = await replica({ DB_LISTEN_URL: `postgres://postgres@127.0.0.1:${await freePort()}/x` });
    const t = await signIn();
    assert.equal(await status(deaf.url, t.access_token), 200);
    const verifiedAt = performance.now();
    const res = await fetch(`${a.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.access_token, client_id: clientId }),
    });
    assert.equal(res.status, 200);
    await until(async () => (await status(deaf.url, t.access_token)) === 401, UNHEARD_GRANT_TRUST_MS + 1000);
    const trusted = performance.now() - verifiedAt;
    assert.ok(trusted < UNHEARD_GRANT_TRUST_MS + 500, `trusted for ${trusted.toFixed(0)} ms`);
  });
});
