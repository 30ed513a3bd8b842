/**
 * Identity edge (issue #12): Unicode case-folding traps, IDNA, public suffixes, API-key act-as users
 * outside their tenant. Each case here was accepted before the fix.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { UserContext } from '../../src/auth/types.js';
import { ConfigError, isAppError } from '../../src/errors/index.js';
import { normalizeEmail } from '../../src/tenancy/email-domain.js';
import {
  createTenantResolver,
  isPublicSuffix,
  loadTenantsFile,
  provisionPersonalTenant,
  provisionTenant,
  TenantInputSchema,
  type TenantResolver,
} from '../../src/tenancy/index.js';
import { writeTenantsFile } from '../helpers/server.js';
import { createTenantDb, tenantInput, type TenantDb } from '../helpers/tenants.js';

const code = (c: string) => (e: unknown) => isAppError(e) && e.code === c;

function user(over: Partial<UserContext>): UserContext {
  return {
    subject: 'oidc:x|1',
    provider: 'oidc',
    issuer: 'x',
    email: 'ann@kacme.com',
    emailVerified: true,
    scopes: [],
    clientId: '',
    expiresAt: 2e9,
    ...over,
  };
}

describe('email normalisation: ASCII check before lower-casing', () => {
  for (const [email, why] of [
    ['ann@\u212Aacme.com', 'Kelvin sign K, lower-cases to ASCII k'],
    ['ann@\u212Aacme.com'.toUpperCase(), 'Kelvin sign upper-cased'],
    ['ann@acme.\u017Fe', 'long s (U+017F), case-folds to s'],
    ['ann@\uFF41cme.com', 'fullwidth a'],
    ['ann@\u0131bm.com', 'dotless i'],
    ['ann@\u0130bm.com', 'dotted capital I, lower-cases to i + U+0307'],
    ['\u212Aim@acme.com', 'Kelvin sign in the local part'],
    ['j\u00f6rg@acme.com', 'non-ASCII local part (SMTPUTF8)'],
    ['ann@b\u00fccher.de', 'Unicode domain (refused, not converted)'],
    ['ann@xn--a.com', 'invalid punycode'],
    ['ann@xn--.com', 'empty punycode'],
    ['ann@ab--cd.com', '"--" in positions 3-4 without xn'],
    ['ann@acme.com.', 'trailing dot'],
    ['ann @acme.com', 'space in local part'],
  ] as const) {
    it(`refuses ${JSON.stringify(email)} (${why})`, () => {
      assert.throws(() => normalizeEmail(email), code('ERR_TENANT_EMAIL_INVALID'));
    });
  }

  it('accepts ASCII addresses (lower-cased) and valid IDNA A-labels', () => {
    assert.deepEqual(normalizeEmail('Ann.Lee+qa@Acme.COM'), {
      email: 'ann.lee+qa@acme.com',
      local: 'ann.lee+qa',
      domain: 'acme.com',
    });
    assert.equal(normalizeEmail('x@XN--BCHER-KVA.de').domain, 'xn--bcher-kva.de');
    assert.equal(normalizeEmail('x@acme.xn--p1ai').domain, 'acme.xn--p1ai');
  });

  it('refuses the same traps in tenant domains (TENANTS_FILE / tenants add)', () => {
    for (const d of ['\u212Aacme.com', '\uFF41cme.com', 'b\u00fccher.de', 'xn--a.com', 'ab--cd.com']) {
      const r = TenantInputSchema.safeParse({ ...tenantInput('t', ['x.com']), domains: [d] });
      assert.equal(r.success, false, d);
      assert.match(r.error.issues[0]!.message, /is not usable/);
    }
    const ok = TenantInputSchema.parse({
      ...tenantInput('t', ['x.com']),
      domains: [' ACME.com. ', 'xn--bcher-kva.de'],
    });
    assert.deepEqual(ok.domains, ['acme.com', 'xn--bcher-kva.de']);
  });
});

describe('tenant domains: Public Suffix List', () => {
  let t: TenantDb;
  let resolve: TenantResolver;
  before(async () => {
    t = await createTenantDb();
    await provisionTenant(t.pool, tenantInput('kacme', ['kacme.com']), t.deps);
    await provisionTenant(t.pool, tenantInput('shop', ['shop.co.uk'], { includeSubdomains: true }), t.deps);
    resolve = createTenantResolver({
      pool: t.pool,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'refuse',
      cacheTtlMs: 0,
    });
  });
  after(async () => {
    await t?.close();
  });

  it('knows suffixes from both sections of the list', () => {
    for (const d of ['co.uk', 'com', 'com.au', 'github.io', 's3.amazonaws.com', 'xn--p1ai'])
      assert.ok(isPublicSuffix(d), d);
    for (const d of ['acme.co.uk', 'acme.com', 'acme.github.io', 'acme.internal']) assert.ok(!isPublicSuffix(d), d);
  });

  it('refuses a public suffix as a tenant domain, naming it, and changes nothing', async () => {
    for (const d of ['co.uk', 'com.au', 'github.io']) {
      await assert.rejects(
        provisionTenant(t.pool, tenantInput('suffix', ['suffix-ok.com', d]), t.deps),
        (e: unknown) => code('ERR_BAD_REQUEST')(e) && (e as Error).message.includes(`domain "${d}" is a public suffix`),
      );
    }
    const { rowCount } = await t.pool.query("SELECT 1 FROM control.tenants WHERE id = 'suffix'");
    assert.equal(rowCount, 0);
  });

  it('TENANTS_FILE with a public suffix stops the boot with a ConfigError naming the domain', async () => {
    const file = await writeTenantsFile({ tenants: [tenantInput('uk', ['co.uk'], { includeSubdomains: true })] });
    try {
      await assert.rejects(
        loadTenantsFile(t.pool, file.file, t.deps),
        (e: unknown) => e instanceof ConfigError && /TENANTS_FILE: domain "co\.uk" is a public suffix/.test(e.message),
      );
    } finally {
      await file.remove();
    }
  });

  it('the admin CLIs refuse a public-suffix tenant domain and an act-as user outside the tenant, naming them', async () => {
    const env = { ...process.env, DATABASE_URL: t.db.url, NODE_ENV: 'test', LOG_LEVEL: 'silent' };
    const cli = (script: string, ...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', `src/cli/${script}.ts`, ...args], { env });
    const vault = [
      '--vault-url',
      'https://x.veevavault.com',
      '--auth-mode',
      'service_account',
      '--username',
      'bot@x.com',
    ];
    await assert.rejects(
      cli('tenants', 'add', 'uk', '--domain', 'co.uk', ...vault),
      (e: { code: number; stderr: string }) =>
        e.code === 1 && e.stderr.includes('domain "co.uk" is a public suffix') && e.stderr.includes('tenant "uk"'),
    );
    const added = await cli(
      'tenants',
      'add',
      'lab',
      '--domain',
      'lab-example.org',
      '--allow-consumer-accounts',
      ...vault,
    );
    assert.match(added.stdout, /created tenant lab/);
    assert.match((await cli('tenants', 'list')).stdout, /lab\t.*lab-example\.org\t\[consumer accounts\]/);
    await assert.rejects(
      cli(
        'api-keys',
        'create',
        '--tenant',
        'lab',
        '--name',
        'k',
        '--scopes',
        'vault:read',
        '--act-as',
        'ceo@kacme.com',
      ),
      (e: { code: number; stderr: string }) =>
        e.code === 1 &&
        e.stderr.includes("--act-as ceo@kacme.com is not at a domain of tenant 'lab' (lab-example.org)"),
    );
  });

  it('never matches a public suffix at sign-in, even one left in the database by an older version', async () => {
    await t.pool.query(
      "INSERT INTO control.tenant_domains (domain, tenant_id, include_subdomains) VALUES ('co.uk', 'kacme', true)",
    );
    try {
      await assert.rejects(resolve(user({ email: 'eve@evil.co.uk' })), code('ERR_TENANT_UNKNOWN_DOMAIN'));
      assert.equal((await resolve(user({ email: 'ann@eu.shop.co.uk' }))).id, 'shop');
    } finally {
      await t.pool.query("DELETE FROM control.tenant_domains WHERE domain = 'co.uk'");
    }
  });

  it('personal tenants are keyed by the address normalised the same way (no Unicode folding)', async () => {
    await assert.rejects(
      provisionPersonalTenant(t.pool, 'ann@gmail.com\u212A', t.deps),
      code('ERR_TENANT_EMAIL_INVALID'),
    );
    await assert.rejects(
      provisionPersonalTenant(t.pool, '\u212Aim@gmail.com', t.deps),
      code('ERR_TENANT_EMAIL_INVALID'),
    );
    const a = await provisionPersonalTenant(t.pool, 'Kim@Gmail.com', t.deps);
    const b = await provisionPersonalTenant(t.pool, 'kim@gmail.com', t.deps);
    assert.equal(a.id, b.id);
  });

  it('a Kelvin-sign address no longer lands in the tenant of its ASCII fold', async () => {
    assert.equal((await resolve(user({ email: 'ann@kacme.com' }))).id, 'kacme');
    await assert.rejects(resolve(user({ email: 'ann@\u212Aacme.com' })), code('ERR_TENANT_EMAIL_INVALID'));
    await assert.rejects(resolve(user({ email: 'ANN@\u212AACME.COM' })), code('ERR_TENANT_EMAIL_INVALID'));
  });
});

describe('API keys: the act-as user must belong to the key tenant', () => {
  let t: TenantDb;
  let resolve: TenantResolver;
  before(async () => {
    t = await createTenantDb();
    await provisionTenant(t.pool, tenantInput('acme', ['acme.com']), t.deps);
    await provisionTenant(t.pool, tenantInput('corp', ['corp.com'], { includeSubdomains: true }), t.deps);
    await provisionTenant(t.pool, tenantInput('globex', ['globex.com']), t.deps);
    // A sub-domain of corp.com that another tenant owns: its users sign in to corp-eu, not corp.
    await provisionTenant(t.pool, tenantInput('corp-eu', ['eu.corp.com'], { includeSubdomains: true }), t.deps);
    resolve = createTenantResolver({
      pool: t.pool,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'refuse',
      cacheTtlMs: 0,
    });
  });
  after(async () => {
    await t?.close();
  });

  it('creation refuses an act-as user outside the tenant, naming the domains', async () => {
    for (const actAs of ['ceo@globex.com', 'x@acme.com.evil.io', 'x@sub.acme.com', 'x@gmail.com']) {
      await assert.rejects(
        createApiKey(t.pool, { tenantId: 'acme', name: 'k', scopes: ['vault:read'], actAs }),
        (e: unknown) =>
          code('ERR_BAD_REQUEST')(e) && (e as Error).message.includes(`is not at a domain of tenant 'acme' (acme.com)`),
        actAs,
      );
    }
    await assert.rejects(
      createApiKey(t.pool, { tenantId: 'acme', name: 'k', scopes: ['vault:read'], actAs: 'x@\u212Aacme.com' }),
      /actAs: must be a plain ASCII email address/,
    );
    const ok = await createApiKey(t.pool, {
      tenantId: 'acme',
      name: 'k',
      scopes: ['vault:read'],
      actAs: 'QA@Acme.com',
    });
    assert.equal(ok.info.actAs, 'qa@acme.com');
    const sub = await createApiKey(t.pool, {
      tenantId: 'corp',
      name: 'k',
      scopes: ['vault:read'],
      actAs: 'a@us.corp.com',
    });
    assert.equal(sub.info.actAs, 'a@us.corp.com');
  });

  it("a sub-domain another tenant owns is that tenant's, for act-as as for sign-in (nested under includeSubdomains)", async () => {
    // Sign-in sends eu.corp.com (and deeper) to corp-eu, the most specific owner…
    assert.equal((await resolve(user({ email: 'ann@eu.corp.com' }))).id, 'corp-eu');
    assert.equal((await resolve(user({ email: 'ann@x.eu.corp.com' }))).id, 'corp-eu');
    // …so a corp key may not act as those users, although corp.com includes sub-domains…
    for (const actAs of ['ann@eu.corp.com', 'ann@x.eu.corp.com']) {
      await assert.rejects(
        createApiKey(t.pool, { tenantId: 'corp', name: 'k', scopes: ['vault:read'], actAs }),
        (e: unknown) =>
          code('ERR_BAD_REQUEST')(e) && (e as Error).message.includes(`is not at a domain of tenant 'corp'`),
        actAs,
      );
      await assert.rejects(
        resolve(user({ provider: 'api-key', subject: actAs, email: actAs, tenantId: 'corp', actor: 'api-key:1' })),
        (e: unknown) =>
          code('ERR_TENANT_ACT_AS_DOMAIN')(e) && (e as Error).message.includes(`is not a domain of tenant "corp"`),
        actAs,
      );
    }
    // …while a corp-eu key may, and corp keeps its other sub-domains.
    const eu = await createApiKey(t.pool, {
      tenantId: 'corp-eu',
      name: 'k',
      scopes: ['vault:read'],
      actAs: 'ann@x.eu.corp.com',
    });
    assert.equal(eu.info.tenantId, 'corp-eu');
    const euUser = user({
      provider: 'api-key',
      subject: 'ann@x.eu.corp.com',
      email: 'ann@x.eu.corp.com',
      tenantId: 'corp-eu',
      actor: 'api-key:2',
    });
    assert.equal((await resolve(euUser)).id, 'corp-eu');
    const us = user({
      provider: 'api-key',
      subject: 'bo@us.corp.com',
      email: 'bo@us.corp.com',
      tenantId: 'corp',
      actor: 'api-key:3',
    });
    assert.equal((await resolve(us)).id, 'corp');
  });

  it('act-as never counts a public suffix a tenant holds from an older version', async () => {
    await t.pool.query(
      "INSERT INTO control.tenant_domains (domain, tenant_id, include_subdomains) VALUES ('co.uk', 'acme', true)",
    );
    try {
      await assert.rejects(
        createApiKey(t.pool, { tenantId: 'acme', name: 'k', scopes: ['vault:read'], actAs: 'eve@evil.co.uk' }),
        code('ERR_BAD_REQUEST'),
      );
      const eve = user({
        provider: 'api-key',
        subject: 'eve@evil.co.uk',
        email: 'eve@evil.co.uk',
        tenantId: 'acme',
        actor: 'api-key:4',
      });
      await assert.rejects(resolve(eve), code('ERR_TENANT_ACT_AS_DOMAIN'));
    } finally {
      await t.pool.query("DELETE FROM control.tenant_domains WHERE domain = 'co.uk'");
    }
  });

  it('every request re-checks the act-as user against the tenant domains (keys made before the fix, domains changed)', async () => {
    const key = (email: string | undefined, tenantId = 'acme') =>
      user({ provider: 'api-key', subject: email ?? 'api-key:1', email, tenantId, actor: 'api-key:1' });
    assert.equal((await resolve(key('qa@acme.com'))).id, 'acme');
    assert.equal((await resolve(key(undefined))).id, 'acme', 'a key without act-as is the service itself');
    assert.equal((await resolve(key('a@deep.us.corp.com', 'corp'))).id, 'corp');
    await assert.rejects(
      resolve(key('ceo@globex.com')),
      (e: unknown) =>
        code('ERR_TENANT_ACT_AS_DOMAIN')(e) &&
        (e as Error).message.includes(
          'acts as ceo@globex.com, whose domain "globex.com" is not a domain of tenant "acme"',
        ),
    );
    await assert.rejects(resolve(key('x@\u212Aacme.com')), code('ERR_TENANT_EMAIL_INVALID'));
    // The tenant gives up acme.com: its old act-as keys stop working at once.
    await provisionTenant(t.pool, tenantInput('acme', ['acme-pharma.com']), t.deps);
    await assert.rejects(resolve(key('qa@acme.com')), code('ERR_TENANT_ACT_AS_DOMAIN'));
  });
});
