/**
 * GitHub sign-in (plain OAuth 2.0) against the GitHub fake: authorize with PKCE S256 and state, the
 * code redeemed at /login/oauth/access_token (errors come as HTTP 200 { error }), then the verified
 * primary email from /user/emails, with the same rules as GitHub bearer tokens.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { startGithubFake, type GithubFake } from '../../../src/dev/github-fake.js';
import { createGithubUpstream } from '../../../src/oauth/upstream/github-provider.js';
import { createUpstreamRegistry } from '../../../src/oauth/upstream/registry.js';
import type { UpstreamProvider } from '../../../src/oauth/upstream/types.js';
import { driveSignIn, failure, REDIRECT_URI } from '../../helpers/upstream.js';

const CLIENT_ID = 'Iv1.0123456789abcdef';
const SECRET = 'github-app-secret';
const noTenants = { findById: () => Promise.resolve(undefined), findByEmail: () => Promise.resolve(undefined) };

describe('GitHub upstream', () => {
  let gh: GithubFake;
  let p: UpstreamProvider;
  before(async () => {
    gh = await startGithubFake({ apps: { [CLIENT_ID]: SECRET } });
    gh.addUser({
      id: 583231,
      login: 'octocat',
      emails: [
        { email: 'octo@users.noreply.github.com', primary: false, verified: true },
        { email: 'Octo@Acme.com', primary: true, verified: true },
      ],
    });
    gh.addUser({
      id: 2,
      login: 'unverified',
      emails: [
        { email: 'un@acme.com', primary: true, verified: false },
        { email: 'un2@acme.com', primary: false, verified: true },
      ],
    });
    gh.addUser({ id: 5, login: 'kelvin', emails: [{ email: 'ann@merc\u212A.com', primary: true, verified: true }] });
    gh.addUser({ id: 3, login: 'noprimary', emails: [{ email: 'np@acme.com', primary: false, verified: true }] });
    gh.addUser({ id: 4, login: 'noscope', emails: [], noEmailScope: true });
    const config = loadConfig({
      NODE_ENV: 'test',
      GITHUB_ENABLED: 'true',
      GITHUB_CLIENT_ID: CLIENT_ID,
      GITHUB_CLIENT_SECRET: SECRET,
      GITHUB_API_URL: gh.apiUrl,
      GITHUB_OAUTH_URL: gh.oauthUrl,
    });
    const registry = createUpstreamRegistry({ config, tenants: noTenants, secrets: () => undefined });
    assert.deepEqual(
      registry.list().map((x) => x.id),
      ['github'],
    );
    p = (await registry.get('github'))!;
  });
  after(async () => {
    await gh?.close();
  });

  it('signs in with PKCE and state and returns the verified primary email', async () => {
    const run = await driveSignIn(p, 'octocat');
    const q = run.authorizationUrl.searchParams;
    assert.equal(run.authorizationUrl.pathname, '/login/oauth/authorize');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.equal(q.get('state'), run.expectedState);
    assert.match(q.get('scope')!, /user:email/);
    const id = await p.exchange(run);
    assert.deepEqual(
      { subject: id.subject, provider: id.provider, issuer: id.issuer, email: id.email, name: id.name },
      { subject: '583231', provider: 'github', issuer: gh.apiUrl, email: 'octo@acme.com', name: 'octocat' },
    );
    assert.match(id.upstreamTokens.accessToken, /^gho_/);
  });

  it('refuses an unverified primary email, a missing primary email and a token without user:email', async () => {
    const unverified = await failure(p.exchange(await driveSignIn(p, 'unverified')));
    assert.equal(unverified.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    assert.match(unverified.message, /primary email of the GitHub account unverified is not verified/);
    const none = await failure(p.exchange(await driveSignIn(p, 'noprimary')));
    assert.equal(none.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    assert.match(none.message, /noprimary has no primary email/);
    const noScope = await failure(p.exchange(await driveSignIn(p, 'noscope')));
    assert.match(noScope.message, /user:email/);
  });

  it('refuses a primary email that is not ASCII instead of lower-casing it (Kelvin sign → k)', async () => {
    const f = await failure(p.exchange(await driveSignIn(p, 'kelvin')));
    assert.equal(f.code, 'ERR_TENANT_EMAIL_INVALID');
    assert.match(f.message, /not usable|not plain printable ASCII|domain/);
  });

  it('turns a denial into a clear refusal and checks state', async () => {
    const denied = await failure(p.exchange(await driveSignIn(p, 'deny')));
    assert.equal(denied.code, 'ERR_UPSTREAM_DENIED');
    assert.match(denied.message, /^Sign-in with GitHub did not complete: the sign-in was cancelled or refused/);
    const run = await driveSignIn(p, 'octocat');
    const bad = await failure(p.exchange({ ...run, expectedState: 'forged' }));
    assert.equal(bad.code, 'ERR_BAD_REQUEST');
    const mixed = new URL(run.callbackUrl);
    mixed.searchParams.set('iss', 'https://evil.example');
    assert.equal((await failure(p.exchange({ ...run, callbackUrl: mixed }))).code, 'ERR_UPSTREAM_INVALID');
    // An iss on GitHub's own origin is GitHub's (it publishes no issuer identifier to compare with).
    const own = new URL(run.callbackUrl);
    own.searchParams.set('iss', `${gh.oauthUrl}/login/oauth`);
    assert.equal((await p.exchange({ ...run, callbackUrl: own })).subject, '583231');
  });

  it('refuses a wrong PKCE verifier and a replayed code (GitHub answers 200 { error })', async () => {
    const run = await driveSignIn(p, 'octocat');
    const wrong = await failure(p.exchange({ ...run, codeVerifier: 'y'.repeat(43) }));
    assert.equal(wrong.code, 'ERR_UPSTREAM_DENIED');
    assert.match(wrong.message, /bad_verification_code/);
    const again = await driveSignIn(p, 'octocat');
    await p.exchange(again);
    assert.match((await failure(p.exchange(again))).message, /bad_verification_code/);
  });

  it('names GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET when GitHub refuses the app credentials', async () => {
    const wrong = createGithubUpstream({
      oauthUrl: gh.oauthUrl,
      apiUrl: gh.apiUrl,
      clientId: CLIENT_ID,
      clientSecret: 'nope',
      timeoutMs: 2000,
    });
    const f = await failure(wrong.exchange(await driveSignIn(wrong, 'octocat')));
    assert.equal(f.code, 'ERR_UPSTREAM_INVALID');
    assert.match(f.message, /GITHUB_CLIENT_ID \/ GITHUB_CLIENT_SECRET/);
  });

  it('answers 503 when GitHub is down', async () => {
    const run = await driveSignIn(p, 'octocat');
    gh.setDown(true);
    try {
      const f = await failure(p.exchange(run));
      assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(f.message, /GitHub answered HTTP 503/);
    } finally {
      gh.setDown(false);
    }
  });

  it('bounds the code redemption: an oversized body and a body slower than the timeout are refused', async () => {
    // A token endpoint that answers 200 at once, then either streams more than the size cap
    // (64 KiB) or stalls mid-body; both must fail as "unavailable", naming the redemption.
    const server: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/big/')) {
        res.end(JSON.stringify({ access_token: 'gho_x', padding: 'x'.repeat(200_000) }));
      } else {
        res.write('{"access_token":'); // …and never the rest
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const input = {
      callbackUrl: new URL(`${REDIRECT_URI}?code=c&state=s`),
      expectedState: 's',
      expectedNonce: 'n',
      codeVerifier: 'v'.repeat(43),
      redirectUri: REDIRECT_URI,
    };
    const provider = (path: string) =>
      createGithubUpstream({
        oauthUrl: `${base}${path}`,
        apiUrl: gh.apiUrl,
        clientId: CLIENT_ID,
        clientSecret: SECRET,
        timeoutMs: 300,
      });
    try {
      const big = await failure(provider('/big').exchange(input));
      assert.equal(big.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(big.message, /GitHub's sign-in code redemption sent a response larger than 65536 bytes/);
      const slow = await failure(provider('/slow').exchange(input));
      assert.equal(slow.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(slow.message, /GitHub's sign-in code redemption did not answer within 300 ms/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('names the redemption when GitHub cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const p2 = createGithubUpstream({
      oauthUrl: `http://127.0.0.1:${port}`,
      apiUrl: gh.apiUrl,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      timeoutMs: 2000,
    });
    const f = await failure(
      p2.exchange({
        callbackUrl: new URL(`${REDIRECT_URI}?code=c&state=s`),
        expectedState: 's',
        expectedNonce: 'n',
        codeVerifier: 'v'.repeat(43),
        redirectUri: REDIRECT_URI,
      }),
    );
    assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(f.message, "GitHub's sign-in code redemption could not be reached; try again shortly");
  });
});
