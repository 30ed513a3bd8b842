/**
 * The generic OIDC upstream against the dev issuer, driven headlessly: the full authorization-code
 * round trip (PKCE S256, state, nonce, RFC 9207 iss), then every way the callback or the ID token can
 * be wrong: denial, state, iss, nonce, audience, issuer, expiry, signature, algorithm, unverified
 * email (false, the string "true", missing), a replayed code, a wrong verifier, wrong client secret,
 * and discovery being down (503 naming the provider; not cached, so recovery is immediate).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { startDevIssuer, type DevIssuer } from '../../../src/dev/issuer.js';
import { createOidcUpstream } from '../../../src/oauth/upstream/oidc-provider.js';
import { createUpstreamRegistry } from '../../../src/oauth/upstream/registry.js';
import type { UpstreamProvider } from '../../../src/oauth/upstream/types.js';
import { driveSignIn, failure } from '../../helpers/upstream.js';

const CLIENT_ID = 'vault-mcp';
const CLIENT_SECRET = 'oidc-secret-value';

describe('generic OIDC upstream', () => {
  let idp: DevIssuer;
  let provider: UpstreamProvider;
  const noTenants = { findById: () => Promise.resolve(undefined), findByEmail: () => Promise.resolve(undefined) };

  before(async () => {
    idp = await startDevIssuer({
      clients: { [CLIENT_ID]: CLIENT_SECRET },
      users: [
        { sub: 'u-ann', email: 'Ann@Acme.com', email_verified: true, name: 'Ann Acme' },
        { sub: 'u-false', email: 'bob@acme.com', email_verified: false },
        { sub: 'u-string', email: 'cy@acme.com', email_verified: 'true' },
        { sub: 'u-none', email: 'dee@acme.com' },
        { sub: 'u-info', email: 'Info@Acme.com', email_verified: true, emailInUserinfoOnly: true },
        { sub: 'u-info-str', email: 'str@acme.com', email_verified: 'true', emailInUserinfoOnly: true },
      ],
    });
    // Built the way main will: from config.
    const config = loadConfig({
      NODE_ENV: 'test',
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      // Key rotation below: an unknown kid may refetch at once.
      JWKS_COOLDOWN_SECONDS: '0',
    });
    const registry = createUpstreamRegistry({ config, tenants: noTenants, secrets: () => undefined });
    assert.deepEqual(
      registry.list().map((p) => p.id),
      ['oidc'],
    );
    provider = (await registry.get('oidc'))!;
  });
  beforeEach(() => {
    idp.setIdTokenOverride(undefined);
    idp.setUserinfoOverride(undefined);
    idp.setDown(false);
  });
  after(async () => {
    await idp?.close();
  });

  it('completes a headless authorization-code round trip with PKCE, state and nonce', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    const q = run.authorizationUrl.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), CLIENT_ID);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.equal(q.get('redirect_uri'), run.redirectUri);
    assert.equal(q.get('nonce'), run.expectedNonce);
    assert.match(q.get('scope')!, /\bopenid\b.*\bemail\b/);
    assert.match(run.loginPage, /Sign in as Ann Acme/);
    assert.equal(run.callbackUrl.searchParams.get('iss'), idp.issuer);

    const id = await provider.exchange(run);
    assert.equal(id.subject, 'u-ann');
    assert.equal(id.provider, 'oidc');
    assert.equal(id.issuer, idp.issuer);
    assert.equal(id.email, 'ann@acme.com');
    assert.equal(id.emailVerified, true);
    assert.equal(id.name, 'Ann Acme');
    assert.ok(id.upstreamTokens.accessToken.split('.').length === 3);
    assert.ok(id.upstreamTokens.idToken);
    assert.ok(id.upstreamTokens.refreshToken);
    assert.ok(id.upstreamTokens.expiresAt! > Date.now() / 1000);
  });

  it('passes login_hint through', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com', { loginHint: 'ann@acme.com' });
    assert.equal(run.authorizationUrl.searchParams.get('login_hint'), 'ann@acme.com');
    assert.match(run.loginPage, /suggested/);
  });

  it('turns a cancelled sign-in (access_denied) into a clear refusal', async () => {
    const run = await driveSignIn(provider, 'deny');
    const f = await failure(provider.exchange(run));
    assert.equal(f.code, 'ERR_UPSTREAM_DENIED');
    assert.equal(f.status, 403);
    assert.match(f.message, /cancelled or refused \(access_denied: The user cancelled the sign-in\)/);
  });

  it('refuses a callback whose state is not ours (also on error responses)', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    const f = await failure(provider.exchange({ ...run, expectedState: 'another-sign-in' }));
    assert.equal(f.code, 'ERR_BAD_REQUEST');
    assert.match(f.message, /state does not match/);
    const noState = new URL(run.callbackUrl);
    noState.searchParams.delete('state');
    assert.match((await failure(provider.exchange({ ...run, callbackUrl: noState }))).message, /state.*missing/);
    // The code was never redeemed: a later, correct attempt still works.
    assert.equal((await provider.exchange(run)).subject, 'u-ann');
  });

  it('refuses a callback with our state but neither code nor error', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    const noCode = new URL(run.callbackUrl);
    noCode.searchParams.delete('code');
    const f = await failure(provider.exchange({ ...run, callbackUrl: noCode }));
    assert.equal(f.code, 'ERR_BAD_REQUEST');
    assert.match(f.message, /neither a code nor an error/);
  });

  it('redeems the code with the configured redirect_uri, not the URL as a proxy rewrote it', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    const rewritten = new URL(run.callbackUrl.search, 'http://10.0.0.7:3000/oauth/callback');
    assert.equal((await provider.exchange({ ...run, callbackUrl: rewritten })).subject, 'u-ann');
  });

  it('refuses a callback naming another issuer (RFC 9207) and one missing iss when promised', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    const mixed = new URL(run.callbackUrl);
    mixed.searchParams.set('iss', 'https://evil.example');
    const f = await failure(provider.exchange({ ...run, callbackUrl: mixed }));
    assert.equal(f.code, 'ERR_UPSTREAM_INVALID');
    assert.match(f.message, /names issuer "https:\/\/evil.example"/);
    const missing = new URL(run.callbackUrl);
    missing.searchParams.delete('iss');
    assert.match((await failure(provider.exchange({ ...run, callbackUrl: missing }))).message, /lacks the iss/);
  });

  const tampered: [string, Parameters<DevIssuer['setIdTokenOverride']>[0], RegExp][] = [
    ['a bad nonce', { claims: { nonce: 'not-the-nonce' } }, /nonce/],
    ['no nonce', { claims: { nonce: undefined } }, /nonce/],
    ['a wrong audience', { claims: { aud: 'another-client', azp: 'another-client' } }, /aud/],
    ['a wrong issuer', { claims: { iss: 'https://evil.example' } }, /iss/],
    [
      'several audiences and an azp naming another client',
      { claims: { aud: [CLIENT_ID, 'another-client'], azp: 'another-client' } },
      /azp/,
    ],
    ['an expired token', { expiresIn: -3600 }, /exp/],
    ['an issued-at time in the future', { claims: { iat: Math.floor(Date.now() / 1000) + 3600 } }, /iat/],
    ['a signature by a key not in the JWKS', { foreignKey: true }, /signing key \(kid\) is not in/],
  ];
  for (const [what, override, expected] of tampered) {
    it(`refuses an ID token with ${what}`, async () => {
      const run = await driveSignIn(provider, 'Ann@Acme.com');
      idp.setIdTokenOverride(override);
      const f = await failure(provider.exchange(run));
      assert.equal(f.code, 'ERR_UPSTREAM_INVALID', f.message);
      assert.match(f.message, expected);
      assert.doesNotMatch(f.message, /eyJ/, 'no token in the message');
    });
  }

  it('refuses an ID token forged with another key under a known kid', async () => {
    const { keys } = (await (await fetch(idp.jwksUri)).json()) as { keys: { kid: string; alg: string }[] };
    const kid = keys.find((k) => k.alg === 'RS256')!.kid;
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    idp.setIdTokenOverride({ foreignKey: true, header: { kid } });
    const f = await failure(provider.exchange(run));
    assert.equal(f.code, 'ERR_UPSTREAM_INVALID');
    assert.match(f.message, /signature does not verify/);
  });

  it('refuses an ID token signed with an algorithm outside OIDC_ALGORITHMS', async () => {
    const strict = createOidcUpstream({
      id: 'oidc',
      displayName: 'Strict',
      provider: 'oidc',
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      algorithms: ['RS256'],
      timeoutMs: 2000,
      metadataCacheMs: 60_000,
      clockSkewSeconds: 0,
    });
    const run = await driveSignIn(strict, 'Ann@Acme.com');
    idp.setIdTokenOverride({ alg: 'ES256' });
    const f = await failure(strict.exchange(run));
    assert.equal(f.code, 'ERR_UPSTREAM_INVALID');
    assert.match(f.message, /ES256, which is not allowed \(allowed: RS256\)/);
  });

  it('keeps signing users in across an IdP key rotation (unknown kid → one JWKS refetch)', async () => {
    assert.equal((await provider.exchange(await driveSignIn(provider, 'Ann@Acme.com'))).subject, 'u-ann');
    const before = idp.jwksFetches();
    await idp.rotateKeys();
    assert.equal((await provider.exchange(await driveSignIn(provider, 'Ann@Acme.com'))).subject, 'u-ann');
    assert.equal(idp.jwksFetches(), before + 1);
    // Known keys again: no further fetch.
    await provider.exchange(await driveSignIn(provider, 'Ann@Acme.com'));
    assert.equal(idp.jwksFetches(), before + 1);
  });

  it('answers 503 naming the provider when its JWKS cannot be fetched on a cold start', async () => {
    const cold = createOidcUpstream({
      id: 'oidc',
      displayName: 'Corp IdP',
      provider: 'oidc',
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      algorithms: ['RS256'],
      timeoutMs: 2000,
      metadataCacheMs: 60_000,
      clockSkewSeconds: 0,
    });
    const run = await driveSignIn(cold, 'Ann@Acme.com');
    idp.setDown(true);
    try {
      const f = await failure(cold.exchange(run));
      assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(f.message, /The signing keys of Corp IdP could not be fetched \(HTTP 503\)/);
    } finally {
      idp.setDown(false);
    }
  });

  for (const [email, shown] of [
    ['bob@acme.com', 'false'],
    ['cy@acme.com', '"true"'],
    ['dee@acme.com', 'missing'],
  ] as const) {
    it(`refuses an email the upstream does not vouch for (email_verified ${shown})`, async () => {
      const run = await driveSignIn(provider, email);
      const f = await failure(provider.exchange(run));
      assert.equal(f.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
      assert.ok(f.message.includes(`email_verified is ${shown}, not true`), f.message);
    });
  }

  it('reads the email from userinfo when the ID token has none, with the same rules', async () => {
    const id = await provider.exchange(await driveSignIn(provider, 'Info@Acme.com'));
    assert.deepEqual([id.subject, id.email], ['u-info', 'info@acme.com']);
    const str = await failure(provider.exchange(await driveSignIn(provider, 'str@acme.com')));
    assert.equal(str.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    assert.match(str.message, /email_verified is "true", not true/);
    // A userinfo answer about someone else is refused (its sub must be the ID token's).
    const run = await driveSignIn(provider, 'Info@Acme.com');
    idp.setUserinfoOverride({ sub: 'u-ann', email: 'ann@acme.com' });
    const other = await failure(provider.exchange(run));
    assert.equal(other.code, 'ERR_UPSTREAM_INVALID');
    assert.match(other.message, /sub/);
  });

  it('refuses a replayed code and a wrong PKCE verifier', async () => {
    const run = await driveSignIn(provider, 'Ann@Acme.com');
    await provider.exchange(run);
    const replay = await failure(provider.exchange(run));
    assert.equal(replay.code, 'ERR_UPSTREAM_DENIED');
    assert.match(replay.message, /invalid_grant/);

    const other = await driveSignIn(provider, 'Ann@Acme.com');
    const f = await failure(provider.exchange({ ...other, codeVerifier: 'x'.repeat(43) }));
    assert.equal(f.code, 'ERR_UPSTREAM_DENIED');
    assert.match(f.message, /PKCE/);
  });

  it('names the client credentials when the upstream refuses them', async () => {
    const wrong = createOidcUpstream({
      id: 'oidc',
      displayName: 'Corp IdP',
      provider: 'oidc',
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: 'wrong',
      algorithms: ['RS256'],
      timeoutMs: 2000,
      metadataCacheMs: 60_000,
      clockSkewSeconds: 0,
    });
    const run = await driveSignIn(wrong, 'Ann@Acme.com');
    const f = await failure(wrong.exchange(run));
    assert.equal(f.code, 'ERR_UPSTREAM_INVALID');
    assert.match(f.message, /Corp IdP refused this server's client credentials \(invalid_client/);
  });

  it('answers 503 naming the provider while discovery is down, and recovers at once', async () => {
    const cold = createOidcUpstream({
      id: 'oidc',
      displayName: 'Corp IdP',
      provider: 'oidc',
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      algorithms: ['RS256'],
      timeoutMs: 2000,
      metadataCacheMs: 60_000,
      clockSkewSeconds: 0,
    });
    idp.setDown(true);
    const f = await failure(
      cold.authorizationUrl({ state: 's', nonce: 'n', codeChallenge: 'c', redirectUri: 'https://x/cb' }),
    );
    assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(f.status, 503);
    assert.match(
      f.message,
      /Sign-in with Corp IdP is unavailable: its discovery document \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
    idp.setDown(false);
    const run = await driveSignIn(cold, 'Ann@Acme.com');
    assert.equal((await cold.exchange(run)).email, 'ann@acme.com');
  });

  it('answers 503 when the upstream does not answer in time', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const slow = createOidcUpstream({
        id: 'oidc',
        displayName: 'Slow IdP',
        provider: 'oidc',
        issuer: `http://127.0.0.1:${port}`,
        clientId: CLIENT_ID,
        algorithms: ['RS256'],
        timeoutMs: 500,
        metadataCacheMs: 60_000,
        clockSkewSeconds: 0,
      });
      const started = Date.now();
      const f = await failure(
        slow.authorizationUrl({ state: 's', nonce: 'n', codeChallenge: 'c', redirectUri: 'https://x/cb' }),
      );
      assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(f.message, /Slow IdP/);
      assert.ok(Date.now() - started < 5000, 'bounded by the timeout');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('reuses the discovery document for the cache period, and shares one fetch between concurrent sign-ins', async () => {
    // Real time plus a jump: a frozen clock would see the ID token's iat "in the future" on a slow machine.
    let offset = 0;
    const make = (metadataCacheMs: number) =>
      createOidcUpstream({
        id: 'oidc',
        displayName: 'Corp IdP',
        provider: 'oidc',
        issuer: idp.issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        algorithms: ['RS256'],
        timeoutMs: 2000,
        metadataCacheMs,
        clockSkewSeconds: 0,
        now: () => Date.now() + offset,
      });
    const cachedOne = make(60_000);
    const before = idp.discoveryFetches();
    const req = { state: 's', nonce: 'n', codeChallenge: 'c', redirectUri: 'https://x/cb' };
    await Promise.all([1, 2, 3, 4].map(() => cachedOne.authorizationUrl(req)));
    await cachedOne.exchange(await driveSignIn(cachedOne, 'Ann@Acme.com'));
    assert.equal(idp.discoveryFetches(), before + 1);
    offset += 61_000;
    await cachedOne.authorizationUrl(req);
    assert.equal(idp.discoveryFetches(), before + 2);
    const uncached = make(0);
    await uncached.authorizationUrl(req);
    await uncached.authorizationUrl(req);
    assert.equal(idp.discoveryFetches(), before + 4);
  });

  it('refuses a plain-http issuer that is not loopback', () => {
    assert.throws(
      () =>
        createOidcUpstream({
          id: 'oidc',
          displayName: 'Plain',
          provider: 'oidc',
          issuer: 'http://idp.example.com',
          clientId: CLIENT_ID,
          algorithms: ['RS256'],
          timeoutMs: 500,
          metadataCacheMs: 0,
          clockSkewSeconds: 0,
        }),
      /must use https/,
    );
  });
});
