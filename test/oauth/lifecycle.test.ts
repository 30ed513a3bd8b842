/**
 * What happens to grants after issuance: step-up to more scopes, RFC 7009 revocation, the admin CLI,
 * a tenant losing the user's domain, and the `oauth` Vault mode, whose RFC 8693 exchange must receive
 * the upstream token kept with the grant (never our own access token).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createPool } from '../../src/db/pool.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { createOAuthAdmin } from '../../src/oauth/admin.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { postToolCall, callWhoami } from '../helpers/mcp.js';
import {
  authorizeCode,
  exchange,
  oauthAuditRows,
  publicClient,
  sql,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';
import { DEFAULT_TEST_TENANTS, writeTenantsFile } from '../helpers/server.js';
import { canarySeed, TEST_SECRET_KEY } from '../helpers/vault.js';

const run = promisify(execFile);
const CLIENT_ID = 'vault-mcp-hooli';
const CLIENT_SECRET = 'hooli-client-secret-0123456789';

describe('authorization server: grants over time', () => {
  let s: OAuthTestServer;
  let issuer: DevIssuer;
  let sim: VaultSimulator;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  let clientId: string;

  before(async () => {
    issuer = await startDevIssuer({ clients: { [CLIENT_ID]: CLIENT_SECRET } });
    sim = await startVaultSimulator({
      seed: canarySeed({
        mark: 'HOOLI',
        domain: 'hooli.com',
        password: 'unused',
        docId: 7_900_001,
        recordId: 'V0D00000000H901',
      }),
      oauth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri },
    });
    file = await writeTenantsFile({
      tenants: [
        ...DEFAULT_TEST_TENANTS.tenants,
        {
          id: 'globex',
          domains: ['globex.com'],
          vault: {
            url: 'https://globex.veevavault.com',
            auth: { mode: 'service_account', username: 'bot@globex.com', passwordEnv: 'X' },
          },
        },
        {
          id: 'hooli',
          domains: ['hooli.com'],
          vault: {
            url: sim.url,
            auth: {
              mode: 'oauth',
              profileId: 'hooli-okta',
              clientId: CLIENT_ID,
              tokenEndpoint: `${issuer.baseUrl}/token`,
              clientSecretEnv: 'HOOLI_SECRET',
            },
          },
        },
      ],
    });
    s = await startOAuthServer(
      { TENANTS_FILE: file.file, JWT_CACHE_SECONDS: '0', TENANT_CACHE_TTL_MS: '0' },
      { issuer, secrets: { HOOLI_SECRET: CLIENT_SECRET } },
    );
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s?.close();
    await file?.remove();
    await sim?.close();
    await issuer?.close();
  });

  const as = async <T>(email: string, fn: () => Promise<T>): Promise<T> => {
    const before = s.upstream.identity.email;
    s.upstream.identity.email = email;
    try {
      return await fn();
    } finally {
      s.upstream.identity.email = before;
    }
  };

  it('step-up: a 403 insufficient_scope, then authorize with more scope grants it after consent', async () => {
    const t = await exchange(s, clientId, await authorizeCode(s, clientId, { scope: 'vault:read' }));
    const denied = await postToolCall(s.url, t.body.access_token, 'documents_update', { id: 1, title: 'x' });
    assert.equal(denied.status, 403);
    const more = await authorizeCode(s, clientId, { scope: 'vault:read vault:write' });
    const t2 = await exchange(s, clientId, more);
    assert.equal(t2.body.scope, 'vault:read vault:write');
    const me = await callWhoami(s.url, t2.body.access_token);
    assert.deepEqual(me.scopes, ['vault:read', 'vault:write']);
    const allowed = await postToolCall(s.url, t2.body.access_token, 'documents_update', { id: 1, title: 'x' });
    assert.notEqual(allowed.status, 403, 'the scope check passes (Vault itself is not reachable here)');
  });

  it('RFC 7009: revoking the refresh token ends the grant (refresh and access token); unknown tokens answer 200', async () => {
    const t = await exchange(s, clientId, await authorizeCode(s, clientId));
    const revoke = (token: string, id = clientId) =>
      fetch(`${s.url}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: id }),
      });
    assert.equal((await revoke('vmrt_unknown')).status, 200);
    const other = await publicClient(s.url, { client_name: 'Other' });
    assert.equal((await revoke(t.body.refresh_token, other)).status, 200);
    assert.equal(
      (await postToolCall(s.url, t.body.access_token, 'whoami')).status,
      200,
      "another client's revocation does nothing",
    );
    assert.equal((await revoke(t.body.refresh_token)).status, 200);
    const r = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(r.body.error, 'invalid_grant');
    assert.equal((await postToolCall(s.url, t.body.access_token, 'whoami')).status, 401);

    const t2 = await exchange(s, clientId, await authorizeCode(s, clientId));
    assert.equal((await revoke(t2.body.access_token)).status, 200);
    const r2 = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t2.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(r2.body.error, 'invalid_grant', 'revoking the access token ends its grant too');
  });

  it('CLI: grants list and revoke --user; the revocation is audited and takes effect', async () => {
    const t = await as('it.admin@globex.com', async () => exchange(s, clientId, await authorizeCode(s, clientId)));
    const env = {
      ...process.env,
      DATABASE_URL: s.db.url,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
    };
    const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/oauth.ts', ...args], { env });
    const listed = await cli('grants', 'list', '--user', 'IT.Admin@globex.com');
    assert.match(listed.stdout, /active {2}it\.admin@globex\.com {2}tenant=globex/);
    const revoked = await cli('grants', 'revoke', '--user', 'it.admin@globex.com');
    assert.match(revoked.stdout, /revoked 1 grant/);
    assert.equal((await postToolCall(s.url, t.body.access_token, 'whoami')).status, 401);
    const rows = await oauthAuditRows(s.db.url, 'globex');
    assert.ok(rows.some((r) => r.tool === 'oauth.revoke' && r.details.revoked === 'admin_revoked'));
    await assert.rejects(cli('grants', 'revoke'), (e: { code: number }) => e.code === 64);
  });

  it('admin revocation by client and by tenant touches only what it names', async () => {
    const other = await publicClient(s.url, { client_name: 'Second app' });
    const [a, b] = await as('lab@globex.com', async () => [
      await exchange(s, clientId, await authorizeCode(s, clientId)),
      await exchange(s, other, await authorizeCode(s, other)),
    ]);
    const acme = await exchange(s, clientId, await authorizeCode(s, clientId));
    const pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 10_000, tenantRoles: false });
    try {
      const admin = createOAuthAdmin({ pool, cipher: createSessionCipher(TEST_SECRET_KEY) });
      await assert.rejects(admin.revoke({}, 'test'), /name the grants/);
      const byClient = await admin.revoke({ clientId: other, tenantId: 'globex' }, 'test');
      assert.deepEqual(
        byClient.map((g) => g.clientId),
        [other],
      );
      assert.equal((await postToolCall(s.url, b.body.access_token, 'whoami')).status, 401);
      assert.equal((await postToolCall(s.url, a.body.access_token, 'whoami')).status, 200);
      const byTenant = await admin.revoke({ tenantId: 'globex' }, 'test');
      assert.ok(byTenant.length >= 1 && byTenant.every((g) => g.tenantId === 'globex'));
      assert.equal((await postToolCall(s.url, a.body.access_token, 'whoami')).status, 401);
      assert.equal(
        (await postToolCall(s.url, acme.body.access_token, 'whoami')).status,
        200,
        'other tenants untouched',
      );
      const listed = await admin.list({ tenantId: 'globex', all: true });
      assert.ok(listed.every((g) => g.revokedAt));
    } finally {
      await pool.end();
    }
  });

  it("removing the user's domain from the tenant ends the grant: 403 at /mcp, invalid_grant at refresh", async () => {
    const t = await as('ops@globex.com', async () => exchange(s, clientId, await authorizeCode(s, clientId)));
    assert.equal((await postToolCall(s.url, t.body.access_token, 'whoami')).status, 200);
    await sql(s.db.url, "DELETE FROM control.tenant_domains WHERE tenant_id = 'globex'");
    try {
      const res = await postToolCall(s.url, t.body.access_token, 'whoami');
      assert.equal(res.status, 403);
      const r = await tokenRequest(s.url, {
        grant_type: 'refresh_token',
        refresh_token: t.body.refresh_token,
        client_id: clientId,
      });
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(r.body.error_description, /globex\.com/);
      const g = await sql(s.db.url, "SELECT revoked_reason FROM control.oauth_grants WHERE email = 'ops@globex.com'");
      assert.deepEqual(g, [{ revoked_reason: 'tenant_changed' }]);
    } finally {
      await sql(s.db.url, "INSERT INTO control.tenant_domains (domain, tenant_id) VALUES ('globex.com', 'globex')");
    }
  });

  it('oauth Vault mode: the token exchange receives the upstream token kept with the grant, not ours', async () => {
    const email = 'qa.manager@hooli.com';
    const upstreamToken = await issuer.mint({
      sub: 'qa.manager',
      email,
      email_verified: true,
      aud: s.resource,
      scope: 'vault:read',
    });
    const saved = s.upstream.identity.upstreamTokens;
    s.upstream.identity.upstreamTokens = {
      accessToken: upstreamToken,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    };
    try {
      const t = await as(email, async () => exchange(s, clientId, await authorizeCode(s, clientId)));
      const me = await callWhoami(s.url, t.body.access_token);
      assert.equal(me.tenant, 'hooli');
      assert.equal(me.vaultUser?.mode, 'oauth', JSON.stringify(me.vaultUser));
      assert.equal(me.vaultUser?.username, email);
      const seen = issuer.exchanges().map((e) => e.subjectToken);
      assert.ok(seen.includes(upstreamToken), 'the upstream token was exchanged');
      assert.ok(!seen.includes(t.body.access_token), 'our access token never left the server');
      assert.ok(!JSON.stringify(t.body).includes(upstreamToken), 'the upstream token never reached the client');

      // Once the upstream token has expired, a refresh cannot help: the client is sent to sign in again.
      s.upstream.identity.upstreamTokens = { accessToken: upstreamToken, expiresAt: Math.floor(Date.now() / 1000) - 1 };
      const stale = await as(email, async () => exchange(s, clientId, await authorizeCode(s, clientId)));
      const first = await postToolCall(s.url, stale.body.access_token, 'documents_query', {});
      assert.equal(first.status, 401);
      const r = await tokenRequest(s.url, {
        grant_type: 'refresh_token',
        refresh_token: stale.body.refresh_token,
        client_id: clientId,
      });
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(r.body.error_description, /authorize again/);
    } finally {
      s.upstream.identity.upstreamTokens = saved;
    }
  });

  it('metrics count each outcome', async () => {
    const text = await s.running.metrics.registry.metrics();
    assert.match(text, /vault_mcp_oauth_events_total\{event="consent",outcome="ok",reason=""\} \d+/);
    assert.match(text, /vault_mcp_oauth_events_total\{event="token",outcome="ok",reason=""\} \d+/);
    assert.match(text, /vault_mcp_oauth_events_total\{event="revoke",outcome="ok",reason=""\} \d+/);
  });
});
