/**
 * Tenants with their own OIDC providers, in one run: two dev issuers (Acme's and Beta's), tenants
 * provisioned through the real code path (idp stored in control.tenants.idp), home-realm discovery by
 * email domain through the tenant resolver, and the rule that a tenant's IdP may only sign in users
 * of that tenant's domains.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { startDevIssuer, type DevIssuer } from '../../../src/dev/issuer.js';
import { createUpstreamRegistry } from '../../../src/oauth/upstream/registry.js';
import type { UpstreamRegistry } from '../../../src/oauth/upstream/types.js';
import { createTenantResolver, TenantInputSchema, TenantsFileSchema } from '../../../src/tenancy/index.js';
import { createTenantDb, tenantInput, type TenantDb } from '../../helpers/tenants.js';
import { driveSignIn, failure } from '../../helpers/upstream.js';

describe('tenant identity providers', () => {
  let acmeIdp: DevIssuer;
  let betaIdp: DevIssuer;
  let t: TenantDb;
  let registry: UpstreamRegistry;
  let resolver: ReturnType<typeof createTenantResolver>;
  const secrets: Record<string, string> = { ACME_IDP_SECRET: 'acme-secret' };

  before(async () => {
    acmeIdp = await startDevIssuer({
      clients: { 'acme-client': 'acme-secret' },
      users: [
        { sub: 'okta-1', email: 'ann@acme.com', email_verified: true },
        { sub: 'okta-2', email: 'eve@beta.com', email_verified: true },
        { sub: 'okta-3', email: 'sub@eu.acme.com', email_verified: true },
      ],
    });
    // Beta's IdP: a public client (PKCE only, no secret).
    betaIdp = await startDevIssuer({ users: [{ sub: 'entra-1', email: 'bo@beta.com', email_verified: true }] });
    t = await createTenantDb({ roles: false });
    await t.provision([
      tenantInput('acme', ['acme.com'], {
        name: 'Acme Pharma',
        idp: { issuer: acmeIdp.issuer, clientId: 'acme-client', clientSecretEnv: 'ACME_IDP_SECRET', name: 'Acme SSO' },
      }),
      tenantInput('beta', ['beta.com'], { idp: { issuer: betaIdp.issuer, clientId: 'beta-client' } }),
      tenantInput('gamma', ['gamma.com']),
      tenantInput('delta', ['delta.com'], {
        idp: { issuer: betaIdp.issuer, clientId: 'delta-client', allowOtherProviders: true },
      }),
    ]);
    resolver = createTenantResolver({
      pool: t.pool,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'refuse',
      cacheTtlMs: 0,
    });
    registry = createUpstreamRegistry({
      config: loadConfig({ NODE_ENV: 'test' }),
      tenants: resolver,
      secrets: (n) => secrets[n],
    });
  });
  after(async () => {
    await t?.close();
    await acmeIdp?.close();
    await betaIdp?.close();
  });

  it('lists no server-wide provider when none is configured', () => {
    assert.deepEqual(registry.list(), []);
  });

  it('sends acme.com to Acme IdP and beta.com to Beta IdP (home-realm discovery)', async () => {
    const acme = (await registry.forEmail('Ann@ACME.com'))!;
    assert.equal(acme.id, 'tenant:acme');
    assert.equal(acme.displayName, 'Acme SSO');
    const beta = (await registry.forEmail('bo@beta.com'))!;
    assert.equal(beta.id, 'tenant:beta');
    assert.equal(beta.displayName, 'beta');

    const acmeRun = await driveSignIn(acme, 'ann@acme.com');
    assert.equal(acmeRun.authorizationUrl.origin, new URL(acmeIdp.issuer).origin);
    const ann = await acme.exchange(acmeRun);
    assert.deepEqual(
      [ann.subject, ann.email, ann.issuer, ann.provider],
      ['okta-1', 'ann@acme.com', acmeIdp.issuer, 'oidc'],
    );

    const betaRun = await driveSignIn(beta, 'bo@beta.com');
    assert.equal(betaRun.authorizationUrl.origin, new URL(betaIdp.issuer).origin);
    assert.equal((await beta.exchange(betaRun)).email, 'bo@beta.com');
    assert.equal(acmeIdp.codesRedeemed(), 1);
    assert.equal(betaIdp.codesRedeemed(), 1);
  });

  it('finds no home realm for tenants without an IdP, unknown domains and malformed addresses', async () => {
    assert.equal(await registry.forEmail('gus@gamma.com'), undefined);
    assert.equal(await registry.forEmail('x@unknown.example'), undefined);
    assert.equal(await registry.forEmail('not-an-email'), undefined);
    assert.equal(await registry.forEmail('a@acme.com@evil.io'), undefined);
    // Whole labels only: acme.com.evil.io is not acme.com.
    assert.equal(await registry.forEmail('x@acme.com.evil.io'), undefined);
  });

  it('resolves tenant:<id> by id, and nothing for unknown or malformed ids', async () => {
    assert.equal((await registry.get('tenant:acme'))?.displayName, 'Acme SSO');
    assert.equal(await registry.get('tenant:gamma'), undefined);
    assert.equal(await registry.get('tenant:nope'), undefined);
    assert.equal(await registry.get('tenant:../acme'), undefined);
    assert.equal(await registry.get('google'), undefined);
  });

  it("refuses a tenant IdP that signs in another tenant's user", async () => {
    const acme = (await registry.get('tenant:acme'))!;
    const f = await failure(acme.exchange(await driveSignIn(acme, 'eve@beta.com')));
    assert.equal(f.code, 'ERR_UPSTREAM_TENANT_MISMATCH');
    assert.equal(f.status, 403);
    assert.match(
      f.message,
      /identity provider of tenant "acme" signed in eve@beta.com, whose domain is not one of that tenant's domains/,
    );
    // A sub-domain the tenant did not opt into is not its domain either.
    const sub = await failure(acme.exchange(await driveSignIn(acme, 'sub@eu.acme.com')));
    assert.equal(sub.code, 'ERR_UPSTREAM_TENANT_MISMATCH');
  });

  it('names the missing secret env var of a tenant IdP', async () => {
    delete secrets.ACME_IDP_SECRET;
    try {
      const f = await failure(registry.get('tenant:acme'));
      assert.equal(f.code, 'ERR_TENANT_MISCONFIGURED');
      assert.match(f.message, /tenant "acme" needs the environment variable ACME_IDP_SECRET/);
    } finally {
      secrets.ACME_IDP_SECRET = 'acme-secret';
    }
  });

  it("answers 503 naming the tenant's IdP while it is down", async () => {
    // A fresh registry: nothing discovered yet.
    const cold = createUpstreamRegistry({
      config: loadConfig({ NODE_ENV: 'test' }),
      tenants: resolver,
      secrets: (n) => secrets[n],
    });
    const beta = (await cold.forEmail('bo@beta.com'))!;
    betaIdp.setDown(true);
    try {
      const f = await failure(
        beta.authorizationUrl({ state: 's', nonce: 'n', codeChallenge: 'c', redirectUri: 'https://x/cb' }),
      );
      assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(f.message, /^Sign-in with beta is unavailable: its discovery document/);
    } finally {
      betaIdp.setDown(false);
    }
    assert.ok(await beta.authorizationUrl({ state: 's', nonce: 'n', codeChallenge: 'c', redirectUri: 'https://x/cb' }));
  });

  it('refuses server-wide providers for a tenant that signs in through its own IdP (unless it allows them)', async () => {
    const corp = await startDevIssuer({
      users: [
        { sub: 'c1', email: 'ann@acme.com', email_verified: true },
        { sub: 'c2', email: 'gus@gamma.com', email_verified: true },
        { sub: 'c3', email: 'dan@delta.com', email_verified: true },
        { sub: 'c4', email: 'x@unknown.example', email_verified: true },
      ],
    });
    try {
      const withCorp = createUpstreamRegistry({
        config: loadConfig({ NODE_ENV: 'test', OIDC_ISSUER: corp.issuer, OIDC_CLIENT_ID: 'vault-mcp' }),
        tenants: resolver,
        secrets: (n) => secrets[n],
      });
      const p = withCorp.list()[0]!;
      assert.equal(p.id, 'oidc');
      const f = await failure(p.exchange(await driveSignIn(p, 'ann@acme.com')));
      assert.equal(f.code, 'ERR_UPSTREAM_TENANT_MISMATCH');
      assert.match(
        f.message,
        /^Users of acme.com sign in with Acme SSO \(the identity provider of tenant "acme"\), not with 127\.0\.0\.1:\d+$/,
      );
      // get() hands out the same enforcing provider.
      const same = (await withCorp.get('oidc'))!;
      assert.equal(
        (await failure(same.exchange(await driveSignIn(same, 'ann@acme.com')))).code,
        'ERR_UPSTREAM_TENANT_MISMATCH',
      );
      // No IdP of its own, an IdP that allows others, or no tenant at all (tenancy decides later): fine.
      assert.equal((await p.exchange(await driveSignIn(p, 'gus@gamma.com'))).email, 'gus@gamma.com');
      assert.equal((await p.exchange(await driveSignIn(p, 'dan@delta.com'))).email, 'dan@delta.com');
      assert.equal((await p.exchange(await driveSignIn(p, 'x@unknown.example'))).email, 'x@unknown.example');
    } finally {
      await corp.close();
    }
  });

  it('stores only the env var name of the secret: an inline clientSecret is refused by the schema', () => {
    const r = TenantInputSchema.safeParse({
      ...tenantInput('delta', ['delta.com']),
      idp: { issuer: 'https://delta.okta.com', clientId: 'c', clientSecret: 'inline!' },
    });
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /clientSecret/);
    const file = TenantsFileSchema.safeParse({
      tenants: [{ ...tenantInput('delta', ['delta.com']), idp: { issuer: 'not a url', clientId: 'c' } }],
    });
    assert.equal(file.success, false);
  });

  it('keeps the idp in the database and drops it when the tenant is updated without one', async () => {
    const { rows } = await t.pool.query<{ idp: unknown }>("SELECT idp FROM control.tenants WHERE id = 'acme'");
    assert.deepEqual(rows[0]!.idp, {
      issuer: acmeIdp.issuer,
      clientId: 'acme-client',
      clientSecretEnv: 'ACME_IDP_SECRET',
      name: 'Acme SSO',
    });
    await t.provision([tenantInput('gamma', ['gamma.com'])]);
    const g = await t.pool.query<{ idp: unknown }>("SELECT idp FROM control.tenants WHERE id = 'gamma'");
    assert.equal(g.rows[0]!.idp, null);
  });
});
