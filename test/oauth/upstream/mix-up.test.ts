/**
 * IdP mix-up (RFC 9700 §4.4, RFC 9207) through the whole server, with tenants whose own IdPs are real
 * OIDC providers (dev issuers): Acme's (a confidential client, sends RFC 9207 `iss`), Beta's (a public
 * client, no `iss`, as Entra ID) and Evil's (a malicious tenant's IdP, no `iss` either). Each upstream
 * has its own callback path; a sign-in started at one provider is refused when an answer arrives on
 * another provider's path (or the retired shared path) or names another issuer, before any code is
 * redeemed, and nothing is issued.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startDevIssuer, type DevIssuer } from '../../../src/dev/issuer.js';
import { callWhoami } from '../../helpers/mcp.js';
import {
  finishSignIn,
  publicClient,
  sql,
  startSignIn,
  type OAuthBody,
  type StartedSignIn,
} from '../../helpers/oauth.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../../helpers/server.js';
import { clickUser } from '../../helpers/upstream.js';

const vault = (tenant: string) => ({
  url: `https://${tenant}.veevavault.com`,
  auth: { mode: 'service_account', username: `bot@${tenant}.com`, passwordEnv: 'UNUSED' },
});

describe('IdP mix-up defence: one callback path per upstream', () => {
  let acmeIdp: DevIssuer;
  let betaIdp: DevIssuer;
  let evilIdp: DevIssuer;
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  let clientId: string;

  before(async () => {
    acmeIdp = await startDevIssuer({
      clients: { 'acme-client': 'acme-secret' },
      users: [{ sub: 'okta-1', email: 'ann@acme.com', email_verified: true }],
    });
    betaIdp = await startDevIssuer({
      users: [{ sub: 'entra-1', email: 'bo@beta.com', email_verified: true }],
      issParameter: false,
    });
    evilIdp = await startDevIssuer({
      users: [{ sub: 'x', email: 'mallory@evil.com', email_verified: true }],
      issParameter: false,
    });
    file = await writeTenantsFile({
      tenants: [
        {
          id: 'acme',
          domains: ['acme.com'],
          vault: vault('acme'),
          idp: {
            issuer: acmeIdp.issuer,
            clientId: 'acme-client',
            clientSecretEnv: 'ACME_IDP_SECRET',
            name: 'Acme SSO',
          },
        },
        {
          id: 'beta',
          domains: ['beta.com'],
          vault: vault('beta'),
          idp: { issuer: betaIdp.issuer, clientId: 'beta-client' },
        },
        {
          id: 'evil',
          domains: ['evil.com'],
          vault: vault('evil'),
          idp: { issuer: evilIdp.issuer, clientId: 'evil-client' },
        },
      ],
    });
    // No server-wide sign-in provider: the two tenants' IdPs, found by email domain (the real registry).
    s = await startTestServer(
      {
        OAUTH_SERVER_ENABLED: 'true',
        OAUTH_DCR_PER_HOUR: '0',
        OAUTH_RATE_LIMIT_PER_MINUTE: '0',
        TENANTS_FILE: file.file,
      },
      { secrets: { ACME_IDP_SECRET: 'acme-secret' } },
    );
    clientId = await publicClient(s.url);
  });
  after(async () => {
    await s?.close();
    await file?.remove();
    await acmeIdp?.close();
    await betaIdp?.close();
    await evilIdp?.close();
  });

  const grants = async () => (await sql(s.db.url, 'SELECT id FROM control.oauth_grants')).length;
  /** Token requests that reached any IdP (a code sent anywhere is one). */
  const redeemed = () => acmeIdp.tokenRequests() + betaIdp.tokenRequests() + evilIdp.tokenRequests();

  /** A refused answer: the page, its code, and the "Return to the application" link's error. */
  async function refused(started: StartedSignIn, callback: string, status: number, code: string, message: RegExp) {
    const page = await started.browser.go(callback);
    assert.equal(page.status, status, page.html?.slice(0, 500));
    assert.match(page.html!, new RegExp(code));
    assert.match(page.html!.replace(/&#39;/g, "'").replace(/&amp;/g, '&'), message);
    const back = /<a class="back" href="([^"]+)"/.exec(page.html!);
    assert.ok(back, 'the page hands the client an error');
    const to = new URL(back[1]!.replace(/&amp;/g, '&'));
    assert.equal(to.searchParams.get('code'), null);
    assert.equal(to.searchParams.get('state'), started.state);
  }

  it('signs in users of both tenants, each through its own IdP and its own callback URL', async () => {
    for (const [email, tenant, idp] of [
      ['ann@acme.com', 'acme', acmeIdp],
      ['bo@beta.com', 'beta', betaIdp],
    ] as const) {
      const started = await startSignIn(s, clientId, email);
      assert.equal(started.upstreamUrl.origin, new URL(idp.issuer).origin);
      const redirectUri = `${s.url}/oauth/callback/tenant/${tenant}`;
      assert.equal(started.upstreamUrl.searchParams.get('redirect_uri'), redirectUri);
      // Not an oauth-mode tenant: no refresh token is asked for.
      assert.equal(started.upstreamUrl.searchParams.get('scope'), 'openid email profile');
      const { location } = await clickUser(started.upstreamUrl, email);
      assert.ok(location.startsWith(`${redirectUri}?`), location);
      const t: { status: number; body: OAuthBody } = await finishSignIn(s, clientId, started, location);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const me = await callWhoami(s.url, t.body.access_token);
      assert.deepEqual([me.user, me.tenant], [email, tenant]);
    }
    assert.deepEqual([acmeIdp.codesRedeemed(), betaIdp.codesRedeemed()], [1, 1]);
  });

  it("refuses a sign-in started at a tenant's IdP whose answer arrives on another IdP's callback path; nothing redeemed or issued", async () => {
    const before = { grants: await grants(), redeemed: redeemed() };
    // The victim is made to start at Evil's IdP (a tenant's IdP is whatever that tenant configures).
    // It does not sign them in: it sends the browser on to Beta's IdP with this server's Beta client,
    // Beta's callback URL and the same state. Beta signs the victim in and answers, without `iss`, at
    // the callback it knows; with one shared callback, Beta's code and our PKCE verifier would now go
    // to Evil's token endpoint, which promised no `iss` and so could not be caught by RFC 9207.
    const started = await startSignIn(s, clientId, 'mallory@evil.com');
    assert.equal(started.upstreamUrl.origin, new URL(evilIdp.issuer).origin);
    const atEvil = started.upstreamUrl.searchParams;
    const forged = new URL(betaIdp.authorizationEndpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: 'beta-client',
      redirect_uri: `${s.url}/oauth/callback/tenant/beta`,
      scope: 'openid email profile',
      state: atEvil.get('state')!,
      nonce: atEvil.get('nonce')!,
      code_challenge: atEvil.get('code_challenge')!,
      code_challenge_method: 'S256',
    }))
      forged.searchParams.set(k, v);
    const { location } = await clickUser(forged, 'bo@beta.com');
    assert.ok(location.startsWith(`${s.url}/oauth/callback/tenant/beta?`), location);
    assert.equal(new URL(location).searchParams.get('iss'), null, 'Beta sends no iss');
    await refused(
      started,
      location,
      400,
      'ERR_UPSTREAM_MIXUP',
      /started with the provider 'tenant:evil', but the answer arrived at the callback of 'tenant:beta'/,
    );
    assert.equal(redeemed(), before.redeemed, 'no code was sent to any token endpoint');
    assert.equal(await grants(), before.grants, 'no grant');

    // The sign-in is over: even an answer on Evil's own path no longer completes it.
    const own = new URL(location);
    own.pathname = '/oauth/callback/tenant/evil';
    const late = await started.browser.go(own.href);
    assert.equal(late.status, 400);
    assert.match(late.html!, /ERR_OAUTH_LOGIN_EXPIRED/);
    assert.equal(redeemed(), before.redeemed);
  });

  it("refuses an answer for Acme's sign-in on Beta's path even when it carries Acme's iss", async () => {
    const before = { grants: await grants(), redeemed: redeemed() };
    const started = await startSignIn(s, clientId, 'ann@acme.com');
    const moved = new URL((await clickUser(started.upstreamUrl, 'ann@acme.com')).location);
    moved.pathname = '/oauth/callback/tenant/beta';
    await refused(started, moved.href, 400, 'ERR_UPSTREAM_MIXUP', /started with the provider 'tenant:acme'/);
    assert.equal(redeemed(), before.redeemed);
    assert.equal(await grants(), before.grants);
  });

  it('refuses an answer on the retired shared /oauth/callback, naming the URL to register', async () => {
    const before = { grants: await grants(), redeemed: redeemed() };
    const started = await startSignIn(s, clientId, 'ann@acme.com');
    const { location } = await clickUser(started.upstreamUrl, 'ann@acme.com');
    const shared = new URL(location);
    shared.pathname = '/oauth/callback';
    await refused(
      started,
      shared.href,
      400,
      'ERR_UPSTREAM_MIXUP',
      new RegExp(`must register ${s.url}/oauth/callback/tenant/acme at the provider 'tenant:acme'`),
    );
    assert.equal(redeemed(), before.redeemed);
    assert.equal(await grants(), before.grants);
  });

  it('refuses an answer naming another issuer (RFC 9207), and one without iss when the IdP promises it', async () => {
    const before = { grants: await grants(), redeemed: redeemed() };
    const wrong = await startSignIn(s, clientId, 'ann@acme.com');
    const answer = new URL((await clickUser(wrong.upstreamUrl, 'ann@acme.com')).location);
    assert.equal(answer.searchParams.get('iss'), acmeIdp.issuer);
    answer.searchParams.set('iss', betaIdp.issuer);
    await refused(wrong, answer.href, 502, 'ERR_UPSTREAM_INVALID', /names issuer .*expected .*RFC 9207 mix-up defence/);

    const missing = await startSignIn(s, clientId, 'ann@acme.com');
    const bare = new URL((await clickUser(missing.upstreamUrl, 'ann@acme.com')).location);
    bare.searchParams.delete('iss');
    await refused(missing, bare.href, 502, 'ERR_UPSTREAM_INVALID', /lacks the iss parameter its metadata promises/);
    assert.equal(redeemed(), before.redeemed, 'no code was redeemed');
    assert.equal(await grants(), before.grants, 'no grant');
  });

  it('npm run oauth -- redirect-uris lists the URI to register at each identity provider', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli/oauth.ts', 'redirect-uris'],
      {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: s.db.url,
          PUBLIC_URL: 'https://mcp.example.test',
          OIDC_ISSUER: 'https://sso.example.test',
          OIDC_CLIENT_ID: 'vault-mcp',
        },
      },
    );
    assert.deepEqual(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 2)),
      [
        ['oidc', 'https://mcp.example.test/oauth/callback/oidc'],
        ['tenant:acme', 'https://mcp.example.test/oauth/callback/tenant/acme'],
        ['tenant:beta', 'https://mcp.example.test/oauth/callback/tenant/beta'],
        ['tenant:evil', 'https://mcp.example.test/oauth/callback/tenant/evil'],
      ],
    );
    assert.match(stdout, /\(at Acme SSO, http:\/\/127\.0\.0\.1:\d+\)/);
  });
});
