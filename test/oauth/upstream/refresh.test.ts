/**
 * The `oauth` Vault mode keeps the upstream's tokens with the grant; its access token lives only
 * seconds here (the dev issuer, a real OIDC provider, with a 5 s token lifetime), so each test passes
 * its expiry. The call after expiry works without a new sign-in: the upstream token is renewed with
 * the refresh token (once, however many calls, and once across replicas), the rotated tokens are
 * stored, and the token exchange for Vault uses the new one. A renewal the IdP refuses, or a sign-in
 * without a refresh token, ends in 401 ERR_UPSTREAM_SIGN_IN_REQUIRED, then invalid_grant.
 */
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { after, before, describe, it } from 'node:test';
import { createPool } from '../../../src/db/pool.js';
import { startDevIssuer, type DevIssuer } from '../../../src/dev/issuer.js';
import { startVaultSimulator, type VaultSimulator } from '../../../src/dev/vault-sim/server.js';
import { createGrantStore } from '../../../src/oauth/grants.js';
import { createUpstreamTokenSource } from '../../../src/oauth/upstream-tokens.js';
import { createOidcUpstream } from '../../../src/oauth/upstream/oidc-provider.js';
import type { UpstreamTokens } from '../../../src/oauth/upstream/types.js';
import { createSessionCipher } from '../../../src/vault/crypto.js';
import { postToolCall } from '../../helpers/mcp.js';
import { finishSignIn, publicClient, sql, startSignIn, tokenRequest } from '../../helpers/oauth.js';
import { startTestServer, TEST_SECRET_KEY, writeTenantsFile, type TestServer } from '../../helpers/server.js';
import { clickUser } from '../../helpers/upstream.js';
import { canarySeed } from '../../helpers/vault.js';

const CLIENT_ID = 'vault-mcp-hooli';
const CLIENT_SECRET = 'hooli-client-secret-0123456789';
const TTL = 5;
const USER = 'qa.manager@hooli.com';

describe('oauth Vault mode: the upstream token is renewed with its refresh token', () => {
  let idp: DevIssuer;
  let sim: VaultSimulator;
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  let clientId: string;
  const cipher = createSessionCipher(TEST_SECRET_KEY);

  before(async () => {
    idp = await startDevIssuer({
      clients: { [CLIENT_ID]: CLIENT_SECRET },
      users: [{ sub: 'qa.manager', email: USER, email_verified: true }],
      accessTokenTtlSeconds: TTL,
    });
    sim = await startVaultSimulator({
      seed: canarySeed({
        mark: 'HOOLI',
        domain: 'hooli.com',
        password: 'unused',
        docId: 7_900_001,
        recordId: 'V0D00000000H901',
      }),
      oauth: { issuer: idp.issuer, jwksUri: idp.jwksUri },
    });
    // Hooli signs in through its own IdP, which is also where Vault tokens are exchanged for.
    file = await writeTenantsFile({
      tenants: [
        {
          id: 'hooli',
          domains: ['hooli.com'],
          idp: { issuer: idp.issuer, clientId: CLIENT_ID, clientSecretEnv: 'HOOLI_SECRET', name: 'Hooli SSO' },
          vault: {
            url: sim.url,
            auth: {
              mode: 'oauth',
              profileId: 'hooli-okta',
              clientId: CLIENT_ID,
              tokenEndpoint: `${idp.baseUrl}/token`,
              clientSecretEnv: 'HOOLI_SECRET',
            },
          },
        },
      ],
    });
    s = await startTestServer(
      {
        OAUTH_SERVER_ENABLED: 'true',
        OAUTH_DCR_PER_HOUR: '0',
        OAUTH_RATE_LIMIT_PER_MINUTE: '0',
        TENANTS_FILE: file.file,
        JWT_CACHE_SECONDS: '0',
      },
      { issuer: idp, secrets: { HOOLI_SECRET: CLIENT_SECRET } },
    );
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s?.close();
    await file?.remove();
    await sim?.close();
    await idp?.close();
  });

  /** Sign in at Hooli's IdP through the server; our tokens and the grant's id. */
  async function signIn() {
    const started = await startSignIn(s, clientId, USER);
    // oauth mode needs a refresh token: offline_access is asked for (the IdP lists it).
    assert.equal(started.upstreamUrl.searchParams.get('scope'), 'openid email profile offline_access');
    assert.equal(started.upstreamUrl.searchParams.get('redirect_uri'), `${s.url}/oauth/callback/tenant/hooli`);
    const t = await finishSignIn(s, clientId, started, (await clickUser(started.upstreamUrl, USER)).location);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return { ...t.body, grant: decodeJwt(t.body.access_token).grant_id as string };
  }

  /** The upstream tokens as stored with the grant (decrypted as the server does). */
  async function stored(grant: string): Promise<UpstreamTokens> {
    const [row] = await sql<{ c: Buffer }>(
      s.db.url,
      'SELECT upstream_ciphertext AS c FROM control.oauth_grants WHERE id = $1',
      [grant],
    );
    return JSON.parse(cipher.decrypt(row!.c, `oauth-grant|${grant}`)) as UpstreamTokens;
  }

  /** Wait until the stored upstream access token has expired. */
  async function untilExpired(grant: string): Promise<void> {
    const { expiresAt } = await stored(grant);
    assert.ok(expiresAt, 'the IdP said when its token expires');
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt * 1000 - Date.now()) + 100));
  }

  const query = (token: string) => postToolCall(s.url, token, 'documents_query', {});

  it('the call after expiry works without a new sign-in: one refresh, rotated tokens stored, used for Vault', async () => {
    const t = await signIn();
    const codes = idp.codesRedeemed();
    const refreshes = idp.refreshes();
    assert.equal((await query(t.access_token)).status, 200);
    assert.equal(idp.refreshes(), refreshes, 'nothing to renew yet');
    const first = await stored(t.grant);
    assert.ok(first.refreshToken, 'the refresh token is kept with the grant');
    const raw = await sql<{ c: Buffer }>(s.db.url, 'SELECT upstream_ciphertext AS c FROM control.oauth_grants');
    assert.ok(
      raw.every((r) => !r.c.toString('latin1').includes(first.refreshToken!)),
      'stored encrypted',
    );

    await untilExpired(t.grant);
    sim.expireAllSessions(); // the next call logs in to Vault again: a token exchange with the renewed token
    const after = await query(t.access_token);
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal(idp.refreshes(), refreshes + 1, 'one refresh request');
    assert.equal(idp.codesRedeemed(), codes, 'no new sign-in');
    const renewed = await stored(t.grant);
    assert.notEqual(renewed.accessToken, first.accessToken);
    assert.notEqual(renewed.refreshToken, first.refreshToken, 'the rotated refresh token is kept');
    assert.ok(renewed.expiresAt! > Date.now() / 1000);
    assert.equal(idp.exchanges().at(-1)?.subjectToken, renewed.accessToken, 'Vault got a token for the renewed one');

    // Our own refresh keeps working too (the upstream token is live).
    const r = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: clientId,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  it('concurrent calls after expiry: exactly one refresh request reaches the IdP', async () => {
    const t = await signIn();
    await untilExpired(t.grant);
    const refreshes = idp.refreshes();
    idp.setRefreshDelay(300); // every call arrives while the one refresh is under way
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => query(t.access_token)));
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200, 200, 200, 200],
      );
    } finally {
      idp.setRefreshDelay(0);
    }
    assert.equal(idp.refreshes(), refreshes + 1);
  });

  it('two replicas renewing the same grant at once: one refresh (the grant row is locked)', async () => {
    const t = await signIn();
    await untilExpired(t.grant);
    // Two token sources with their own pools, as two replicas have: no shared single flight.
    const provider = createOidcUpstream({
      id: 'tenant:hooli',
      displayName: 'Hooli SSO',
      provider: 'oidc',
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      algorithms: ['RS256'],
      timeoutMs: 5000,
      metadataCacheMs: 60_000,
      clockSkewSeconds: 60,
    });
    const pools = [0, 1].map(() =>
      createPool({ url: s.db.url, max: 4, statementTimeoutMs: 10_000, tenantRoles: false }),
    );
    try {
      const replicas = pools.map((pool) =>
        createUpstreamTokenSource({
          grants: createGrantStore({ pool, cipher, refreshTtlSeconds: 3600 }),
          upstreams: { get: () => Promise.resolve(provider) },
        }),
      );
      const refreshes = idp.refreshes();
      idp.setRefreshDelay(300);
      const tokens = await Promise.all(replicas.flatMap((r) => [r.accessToken(t.grant), r.accessToken(t.grant)]));
      assert.equal(idp.refreshes(), refreshes + 1);
      assert.equal(new Set(tokens).size, 1, 'every caller got the one renewed token');
      assert.equal(tokens[0], (await stored(t.grant)).accessToken);
    } finally {
      idp.setRefreshDelay(0);
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('an IdP that cannot be reached: the token in hand while it is valid, then 503 (the grant stays)', async () => {
    const t = await signIn();
    const { expiresAt } = await stored(t.grant);
    const pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 10_000, tenantRoles: false });
    try {
      // Nothing listens on port 1: discovery fails as for an IdP that is down.
      const down = createOidcUpstream({
        id: 'tenant:hooli',
        displayName: 'Hooli SSO',
        provider: 'oidc',
        issuer: 'http://127.0.0.1:1',
        clientId: CLIENT_ID,
        algorithms: ['RS256'],
        timeoutMs: 2000,
        metadataCacheMs: 0,
        clockSkewSeconds: 60,
      });
      let now = (expiresAt! - 0.2) * 1000; // due (within the margin), not yet expired
      const source = createUpstreamTokenSource({
        grants: createGrantStore({ pool, cipher, refreshTtlSeconds: 3600 }),
        upstreams: { get: () => Promise.resolve(down) },
        now: () => now,
      });
      assert.equal(await source.accessToken(t.grant), (await stored(t.grant)).accessToken);
      now = (expiresAt! + 1) * 1000;
      await assert.rejects(source.accessToken(t.grant), (e: { code?: string; message: string }) => {
        assert.equal(e.code, 'ERR_UPSTREAM_UNAVAILABLE');
        assert.match(e.message, /Hooli SSO is unavailable/);
        return true;
      });
      const [g] = await sql<{ revoked_at: Date | null }>(
        s.db.url,
        'SELECT revoked_at FROM control.oauth_grants WHERE id = $1',
        [t.grant],
      );
      assert.equal(g?.revoked_at, null);
    } finally {
      await pool.end();
    }
  });

  it('a renewal the IdP refuses: 401 ERR_UPSTREAM_SIGN_IN_REQUIRED, then invalid_grant, grant revoked', async () => {
    const t = await signIn();
    idp.revokeRefreshTokens(); // the user's session ended at the IdP
    await untilExpired(t.grant);
    const res = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${t.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const body = (await res.json()) as { code: string; error_description: string };
    assert.equal(body.code, 'ERR_UPSTREAM_SIGN_IN_REQUIRED');
    assert.match(body.error_description, /Hooli SSO refused to renew your sign-in \(invalid_grant.*Sign in again/);

    const r = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: clientId,
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
    assert.match(r.body.error_description, /Sign in again/);
    const [g] = await sql<{ revoked_reason: string }>(
      s.db.url,
      'SELECT revoked_reason FROM control.oauth_grants WHERE id = $1',
      [t.grant],
    );
    assert.equal(g?.revoked_reason, 'upstream_expired');

    // Signing in again is the way out.
    const again = await signIn();
    assert.equal((await query(again.access_token)).status, 200);
  });

  it('a sign-in that brought no refresh token: sign in again once the token expires', async () => {
    idp.setIssueRefreshTokens(false);
    let t: Awaited<ReturnType<typeof signIn>>;
    try {
      t = await signIn();
    } finally {
      idp.setIssueRefreshTokens(true);
    }
    assert.equal((await stored(t.grant)).refreshToken, undefined);
    const refreshes = idp.refreshes();
    await untilExpired(t.grant);
    const res = await query(t.access_token);
    assert.equal(res.status, 401);
    assert.match(JSON.stringify(res.body), /issued no refresh token with this sign-in.*Sign in again/);
    assert.equal(idp.refreshes(), refreshes, 'nothing was sent to the IdP');
    const r = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: clientId,
    });
    assert.equal(r.body.error, 'invalid_grant');
  });
});
