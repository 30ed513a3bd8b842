/**
 * Signing keys (rotation with overlap, a changed SECRET_KEY) against a real database, and the sign-in
 * step with several upstream providers: the chooser page and email home-realm discovery.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createSigningKeys } from '../../src/oauth/keys.js';
import { createSessionCipher } from '../../src/vault/crypto.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { callWhoami } from '../helpers/mcp.js';
import { DEFAULT_TEST_TENANTS, writeTenantsFile } from '../helpers/server.js';
import {
  authorizeUrl,
  Browser,
  fakeRegistry,
  fakeUpstream,
  pkce,
  publicClient,
  REDIRECT,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';

describe('signing keys', () => {
  let db: TestDb;
  let pool: Pool;
  const cipher = createSessionCipher('k'.repeat(40));
  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ url: db.url, max: 4, statementTimeoutMs: 10_000, tenantRoles: false });
    await migrate(pool, { migrations: await loadMigrations() });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('replicas share one key; rotation overlaps; expired keys are dropped; private keys are encrypted', async () => {
    const a = createSigningKeys({ pool, cipher, alg: 'ES256', overlapSeconds: 900, reloadMs: 0 });
    const b = createSigningKeys({ pool, cipher, alg: 'ES256', overlapSeconds: 900, reloadMs: 0 });
    const [t1, t2] = await Promise.all([a.sign({ sub: 'x' }), b.sign({ sub: 'y' })]);
    assert.equal(decodeProtectedHeader(t1).kid, decodeProtectedHeader(t2).kid, 'one key for every replica');
    assert.equal(decodeProtectedHeader(t1).typ, 'at+jwt');
    const newKid = await b.rotate();
    const t3 = await a.sign({ sub: 'z' });
    assert.equal(decodeProtectedHeader(t3).kid, newKid);
    await jwtVerify(t1, a.getKey); // the retired key still verifies during the overlap
    assert.equal((await a.jwks()).keys.length, 2);
    await pool.query("UPDATE control.oauth_signing_keys SET expires_at = now() - interval '1 second' WHERE kid <> $1", [
      newKid,
    ]);
    await assert.rejects(jwtVerify(t1, a.getKey), /not one of ours/);
    const raw = await pool.query<{ c: Buffer }>('SELECT private_ciphertext AS c FROM control.oauth_signing_keys');
    for (const r of raw.rows) assert.ok(!r.c.toString('latin1').includes('"d"'), 'no plaintext private JWK');
  });

  it('EdDSA keys sign and verify too (OAUTH_SIGNING_ALG=EdDSA takes effect at the next rotation)', async () => {
    const ed = createSigningKeys({ pool, cipher, alg: 'EdDSA', overlapSeconds: 900, reloadMs: 0 });
    await ed.rotate();
    const t = await ed.sign({ sub: 'ed' });
    assert.equal(decodeProtectedHeader(t).alg, 'EdDSA');
    await jwtVerify(t, ed.getKey);
  });

  it('a SECRET_KEY change starts a new key instead of failing', async () => {
    const other = createSigningKeys({
      pool,
      cipher: createSessionCipher('z'.repeat(40)),
      alg: 'ES256',
      overlapSeconds: 900,
      reloadMs: 0,
    });
    const t = await other.sign({ sub: 'after-key-change' });
    await jwtVerify(t, other.getKey);
  });
});

describe('sign-in with several upstream providers', () => {
  let s: OAuthTestServer;
  const google = fakeUpstream('google');
  const tenantIdp = fakeUpstream('tenant:acme');
  let removeFile = () => Promise.resolve();
  before(async () => {
    google.identity.provider = 'google';
    // A Workspace account of the tenant: consumer Google accounts are refused unless the tenant opts in.
    google.identity.hostedDomain = 'acme.com';
    const tenants = await writeTenantsFile({
      tenants: [
        ...DEFAULT_TEST_TENANTS.tenants,
        { id: 'globex', domains: ['globex.com'], vault: DEFAULT_TEST_TENANTS.tenants[0]!.vault },
      ],
    });
    removeFile = () => tenants.remove();
    s = await startOAuthServer(
      { TENANTS_FILE: tenants.file },
      { upstreams: fakeRegistry([fakeUpstream('oidc'), google], { 'acme.com': tenantIdp }) },
    );
  });
  after(async () => {
    await s.close();
    await removeFile();
  });

  let verifier = '';
  const start = async (b: Browser, clientId: string) => {
    const p = pkce();
    verifier = p.verifier;
    return b.go(
      authorizeUrl(s.url, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
        state: 's',
      }),
    );
  };

  it('lists the providers and an email field; the email finds the tenant’s own provider', async () => {
    const clientId = await publicClient(s.url);
    const b = new Browser(s.url);
    const chooser = await start(b, clientId);
    assert.equal(chooser.status, 200);
    assert.match(chooser.html!, /Fake oidc/);
    assert.match(chooser.html!, /Fake google/);
    assert.match(chooser.html!, /name="email"/);
    const login = /name="login" value="([^"]+)"/.exec(chooser.html!)![1]!;
    const consent = await b.go(
      `${s.url}/oauth/signin?login=${login}&email=${encodeURIComponent('QA.Manager@acme.com')}`,
    );
    assert.equal(consent.status, 200);
    assert.match(consent.html!, /name="decision" value="approve"/);
    assert.equal(tenantIdp.requests.at(-1)?.loginHint, 'qa.manager@acme.com');
    const unknown = await b.go(`${s.url}/oauth/signin?login=${login}&email=x@nowhere.example`);
    assert.equal(unknown.status, 400);
    assert.match(unknown.html!, /No sign-in is configured for nowhere\.example/);
  });

  it('login_hint with an email goes straight to that tenant’s provider', async () => {
    const clientId = await publicClient(s.url);
    const b = new Browser(s.url);
    const p = pkce();
    const consent = await b.go(
      authorizeUrl(s.url, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
        login_hint: 'qa.manager@acme.com',
      }),
    );
    assert.equal(consent.status, 200);
    assert.match(consent.html!, /name="decision" value="approve"/);
    assert.equal(tenantIdp.requests.at(-1)?.loginHint, 'qa.manager@acme.com');
  });

  it("a tenant's own provider cannot sign in an address of another tenant", async () => {
    const clientId = await publicClient(s.url);
    const b = new Browser(s.url);
    const chooser = await start(b, clientId);
    const login = /name="login" value="([^"]+)"/.exec(chooser.html!)![1]!;
    tenantIdp.identity.email = 'someone@globex.com';
    try {
      const r = await b.go(`${s.url}/oauth/signin?login=${login}&provider=tenant:acme`);
      assert.equal(r.status, 403);
      assert.match(r.html!, /cannot sign in someone@globex\.com/);
      assert.equal(r.location, undefined);
    } finally {
      tenantIdp.identity.email = 'qa.manager@acme.com';
    }
  });

  it('a provider link signs in with that provider; Google subjects keep their bearer-token form', async () => {
    const clientId = await publicClient(s.url);
    const b = new Browser(s.url);
    const chooser = await start(b, clientId);
    const login = /name="login" value="([^"]+)"/.exec(chooser.html!)![1]!;
    const other = await new Browser(s.url).go(`${s.url}/oauth/signin?login=${login}&provider=google`);
    assert.equal(other.status, 403, 'the sign-in belongs to the first browser');
    assert.equal(google.requests.length, 0);
    const consent = await b.go(`${s.url}/oauth/signin?login=${login}&provider=google`);
    assert.equal(consent.status, 200);
    const done = await b.consent(consent.html!);
    const code = done.location!.searchParams.get('code')!;
    assert.equal(google.requests.length, 1);
    const t = await tokenRequest(s.url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const me = await callWhoami(s.url, t.body.access_token);
    assert.equal(me.subject, 'google:u-123');
    assert.equal(me.provider, 'google');
  });
});
