import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { UserContext } from '../../src/auth/types.js';
import { isAppError } from '../../src/errors/index.js';
import { createTenantResolver, provisionTenant, removeTenant, type TenantResolver } from '../../src/tenancy/index.js';
import { createTenantDb, tenantInput, type TenantDb } from '../helpers/tenants.js';

const code = (c: string) => (e: unknown) => isAppError(e) && e.code === c;

function user(over: Partial<UserContext>): UserContext {
  return {
    subject: 'oidc:x|1',
    provider: 'oidc',
    issuer: 'x',
    email: 'ann@res.com',
    emailVerified: true,
    scopes: [],
    clientId: '',
    expiresAt: 2e9,
    ...over,
  };
}

describe('resolveTenant', () => {
  let t: TenantDb;
  let clock = 1_000_000;
  let resolve: TenantResolver;
  before(async () => {
    t = await createTenantDb();
    await provisionTenant(t.pool, tenantInput('res', ['res.com'], { name: 'Res Inc' }), t.deps);
    resolve = createTenantResolver({
      pool: t.pool,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'refuse',
      cacheTtlMs: 1000,
      now: () => clock,
    });
  });
  after(async () => {
    await t?.close();
  });

  it('returns the tenant with its validated Vault settings', async () => {
    const tenant = await resolve(user({}));
    assert.equal(tenant.id, 'res');
    assert.equal(tenant.name, 'Res Inc');
    assert.match(tenant.schema, /^t_[0-9a-f]{32}$/);
    assert.equal(tenant.vault.url, 'https://res.veevavault.com');
    assert.equal(tenant.vault.auth.mode, 'service_account');
  });

  it('maps API-key users by their tenant id, not by email (the act-as email must still be in the tenant)', async () => {
    const tenant = await resolve(user({ provider: 'api-key', email: 'svc@res.com', tenantId: 'res' }));
    assert.equal(tenant.id, 'res');
    await assert.rejects(resolve(user({ provider: 'api-key', tenantId: 'nope' })), code('ERR_TENANT_UNAVAILABLE'));
  });

  it('caches lookups for the TTL (negative ones too) and forgets them on invalidate()', async () => {
    await assert.rejects(resolve(user({ email: 'x@late.com' })), code('ERR_TENANT_UNKNOWN_DOMAIN'));
    await provisionTenant(t.pool, tenantInput('late', ['late.com']), t.deps);
    await assert.rejects(resolve(user({ email: 'x@late.com' })), code('ERR_TENANT_UNKNOWN_DOMAIN'));
    clock += 1001;
    assert.equal((await resolve(user({ email: 'x@late.com' }))).id, 'late');
    await removeTenant(t.pool, 'late');
    assert.equal((await resolve(user({ email: 'x@late.com' }))).id, 'late', 'still cached');
    resolve.invalidate();
    await assert.rejects(resolve(user({ email: 'x@late.com' })), code('ERR_TENANT_UNKNOWN_DOMAIN'));
  });

  it('refuses a tenant whose stored Vault settings are invalid, saying which field', async () => {
    await provisionTenant(t.pool, tenantInput('broken', ['broken.com']), t.deps);
    await t.pool.query(`UPDATE control.tenants SET vault = '{"url": "not a url"}' WHERE id = 'broken'`);
    await assert.rejects(
      resolve(user({ email: 'x@broken.com' })),
      (e) => code('ERR_TENANT_MISCONFIGURED')(e) && /vault\.url/.test((e as Error).message),
    );
  });

  it("a new personal tenant's row is read once: provisioning's result is used, not read back", async () => {
    const sql: string[] = [];
    // The real pool, with the resolver's own queries recorded (provisioning runs on adminPool).
    const recorded = new Proxy(t.pool, {
      get(target, prop) {
        if (prop === 'query')
          return (query: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
            sql.push(typeof query === 'string' ? query : query.text);
            return typeof query === 'string' ? target.query(query, values) : target.query(query);
          };
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const personal = createTenantResolver({
      pool: recorded,
      adminPool: t.pool,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'personal',
      personalTemplate: 'res',
      migrations: t.deps.migrations,
      roles: t.deps.roles,
      cacheTtlMs: 1000,
    });
    const tenant = await personal(user({ email: 'Pat@Gmail.com' }));
    const { rows } = await t.pool.query<{ id: string; schema_name: string }>(
      "SELECT id, schema_name FROM control.tenants WHERE personal_email = 'pat@gmail.com'",
    );
    assert.deepEqual({ id: tenant.id, schema: tenant.schema }, { id: rows[0]!.id, schema: rows[0]!.schema_name });
    assert.equal(tenant.vault.url, 'https://res.veevavault.com', "the template's Vault settings");
    assert.equal(sql.filter((q) => q.includes('personal_email = $1')).length, 1, sql.join('\n'));
    // An existing personal tenant: one read, no provisioning.
    const again = createTenantResolver({
      pool: recorded,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'personal',
      personalTemplate: 'res',
      cacheTtlMs: 1000,
    });
    sql.length = 0;
    assert.equal((await again(user({ email: 'pat@gmail.com' }))).schema, tenant.schema);
    assert.equal(sql.filter((q) => q.includes('personal_email = $1')).length, 1);
  });

  it('with the cache off, every call reads the database', async () => {
    const fresh = createTenantResolver({
      pool: t.pool,
      publicDomains: t.deps.publicDomains,
      publicDomainsPolicy: 'refuse',
      cacheTtlMs: 0,
    });
    assert.equal((await fresh(user({}))).id, 'res');
    await removeTenant(t.pool, 'res');
    await assert.rejects(fresh(user({})), code('ERR_TENANT_UNKNOWN_DOMAIN'));
  });
});
