/**
 * GitHub user tokens against the local GitHub API fake, over real HTTP with the SDK client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGithubFake, type GithubFake } from '../../src/dev/github-fake.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { callWhoami, connectClient, toolJson } from '../helpers/mcp.js';
import { DEFAULT_TEST_TENANTS, startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';

/** GitHub proves no organisation domain: only a tenant that opted in accepts GitHub accounts. */
const consumerTenants = () =>
  writeTenantsFile({ tenants: DEFAULT_TEST_TENANTS.tenants.map((t) => ({ ...t, allowConsumerAccounts: true })) });

describe('GitHub user tokens', () => {
  let gh: GithubFake;
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  before(async () => {
    gh = await startGithubFake();
    file = await consumerTenants();
    s = await startTestServer({
      GITHUB_ENABLED: 'true',
      GITHUB_API_URL: gh.apiUrl,
      DEFAULT_SCOPES: 'vault:read',
      TENANTS_FILE: file.file,
    });
  });
  after(async () => {
    await s?.close();
    await gh?.close();
    await file?.remove();
  });

  it('uses the verified primary email only, with the default scopes, and caches the lookup', async () => {
    const token = gh.addUser({
      id: 583231,
      login: 'octocat',
      emails: [
        { email: 'octocat@users.noreply.github.com', primary: false, verified: true },
        { email: 'octo@acme.com', primary: true, verified: true },
      ],
    });
    const before = gh.calls();
    const client = await connectClient(s.url, token);
    const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.callTool({ name: 'whoami', arguments: {} });
    await client.close();
    assert.equal(me.provider, 'github');
    assert.equal(me.subject, 'github:583231');
    assert.equal(me.user, 'octo@acme.com');
    assert.deepEqual(me.scopes, ['vault:read']);
    assert.equal(gh.calls() - before, 2, '/user and /user/emails once, then cached');
  });

  it('refuses an account whose primary email is not verified, even if another email is', async () => {
    const token = gh.addUser({
      id: 2,
      login: 'mallory',
      emails: [
        { email: 'mallory@acme.com', primary: true, verified: false },
        { email: 'mallory@evil.com', primary: false, verified: true },
      ],
    });
    const res = await postWithToken(s.url, token);
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { message: string; data: { code: string } } };
    assert.equal(body.error.data.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    assert.equal(body.error.message, 'The primary email of the GitHub account mallory is not verified');
  });

  it('explains a token without the user:email scope', async () => {
    const token = gh.addUser({ id: 3, login: 'noscope', emails: [], noEmailScope: true });
    await assert401(
      await postWithToken(s.url, token),
      "The GitHub token cannot read the user's emails; grant the 'user:email' scope (or 'Email addresses: read' for fine-grained tokens)",
    );
  });

  it('refuses a bad token and caches the refusal briefly', async () => {
    const before = gh.calls();
    for (let i = 0; i < 3; i++)
      await assert401(
        await postWithToken(s.url, 'ghp_notarealtoken000000'),
        'GitHub rejected the token (invalid, expired or revoked)',
      );
    assert.equal(gh.calls() - before, 1);
  });

  it('answers 503 while GitHub is down and recovers (outages are not cached)', async () => {
    const token = gh.addUser({
      id: 4,
      login: 'ops',
      emails: [{ email: 'ops@acme.com', primary: true, verified: true }],
    });
    gh.setDown(true);
    try {
      const res = await postWithToken(s.url, token);
      assert.equal(res.status, 503);
      assert.equal(
        ((await res.json()) as { error: { data: { code: string } } }).error.data.code,
        'ERR_UPSTREAM_UNAVAILABLE',
      );
    } finally {
      gh.setDown(false);
    }
    assert.equal((await postWithToken(s.url, token)).status, 200);
  });

  it('is not advertised as an RFC 9728 authorization server (GitHub has no RFC 8414 metadata)', async () => {
    const m = (await (await fetch(`${s.url}/.well-known/oauth-protected-resource`)).json()) as {
      authorization_servers: string[];
    };
    assert.deepEqual(m.authorization_servers, [s.issuer.issuer]);
  });
});

describe('GitHub user tokens bound to our OAuth app (GITHUB_CLIENT_ID)', () => {
  let gh: GithubFake;
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  before(async () => {
    gh = await startGithubFake({ apps: { 'Iv1.vaultmcp': 'app-secret', 'Iv1.otherapp': 'other-secret' } });
    file = await consumerTenants();
    s = await startTestServer({
      GITHUB_ENABLED: 'true',
      GITHUB_API_URL: gh.apiUrl,
      GITHUB_CLIENT_ID: 'Iv1.vaultmcp',
      GITHUB_CLIENT_SECRET: 'app-secret',
      TENANTS_FILE: file.file,
    });
  });
  after(async () => {
    await s?.close();
    await gh?.close();
    await file?.remove();
  });
  const emails = [{ email: 'dev@acme.com', primary: true, verified: true }];

  it('accepts a token issued to our app', async () => {
    const me = await callWhoami(s.url, gh.addUser({ id: 10, login: 'dev', emails, appClientId: 'Iv1.vaultmcp' }));
    assert.equal(me.subject, 'github:10');
  });

  it("refuses the same user's token issued to another app, and a personal access token", async () => {
    const msg = "The GitHub token was not issued to this server's GitHub OAuth app (GITHUB_CLIENT_ID)";
    await assert401(
      await postWithToken(s.url, gh.addUser({ id: 10, login: 'dev', emails, appClientId: 'Iv1.otherapp' })),
      msg,
    );
    await assert401(await postWithToken(s.url, gh.addUser({ id: 10, login: 'dev', emails })), msg);
  });
});

describe('GitHub accounts and tenants that did not opt in to consumer accounts', () => {
  let gh: GithubFake;
  let s: TestServer;
  before(async () => {
    gh = await startGithubFake();
    s = await startTestServer({ GITHUB_ENABLED: 'true', GITHUB_API_URL: gh.apiUrl });
  });
  after(async () => {
    await s?.close();
    await gh?.close();
  });

  it('refuses a verified GitHub account at the tenant domain: GitHub proves no hosted domain', async () => {
    const token = gh.addUser({
      id: 77,
      login: 'exemployee',
      emails: [{ email: 'ex@acme.com', primary: true, verified: true }],
    });
    const res = await postWithToken(s.url, token);
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { message: string; data: { code: string } } };
    assert.equal(body.error.data.code, 'ERR_TENANT_CONSUMER_ACCOUNT');
    assert.match(body.error.message, /GitHub accounts prove no organisation domain, and tenant "acme"/);
  });
});
