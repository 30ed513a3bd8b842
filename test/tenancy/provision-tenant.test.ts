import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withTenant } from '../../src/db/with-tenant.js';
import { isAppError } from '../../src/errors/index.js';
import { provisionTenant, removeTenant } from '../../src/tenancy/index.js';
import { canary, createTenantDb, dumpTenant, plantCanary, tenantInput, type TenantDb } from '../helpers/tenants.js';

const code = (c: string) => (e: unknown) => isAppError(e) && e.code === c;

async function exists(t: TenantDb, schema: string) {
  const { rows } = await t.pool.query<{ ns: boolean; role: boolean; migrations: string }>(
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ns,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role,
            (SELECT count(*) FROM control.schema_migrations WHERE scope = $1)::text AS migrations`,
    [schema],
  );
  return rows[0]!;
}

describe('provisioning', () => {
  let t: TenantDb;
  before(async () => {
    t = await createTenantDb();
  });
  after(async () => {
    await t?.close();
  });

  it('creates schema, role, every tenant migration and the control rows; the schema name is generated', async () => {
    const p = await provisionTenant(t.pool, tenantInput('acme', ['acme.com', 'acme.eu']), t.deps);
    assert.equal(p.created, true);
    assert.match(p.schema, /^t_[0-9a-f]{32}$/);
    assert.ok(!p.schema.includes('acme'));
    assert.deepEqual(await exists(t, p.schema), { ns: true, role: true, migrations: String(t.deps.migrations.length) });
    const { rows } = await t.pool.query(
      'SELECT domain FROM control.tenant_domains WHERE tenant_id = $1 ORDER BY domain',
      ['acme'],
    );
    assert.deepEqual(
      rows.map((r) => r.domain),
      ['acme.com', 'acme.eu'],
    );
  });

  it('is an idempotent upsert for an existing id: same schema, new name/vault, domains replaced', async () => {
    const first = await provisionTenant(t.pool, tenantInput('upd', ['upd.com', 'old.upd.org']), t.deps);
    const again = await provisionTenant(
      t.pool,
      tenantInput('upd', ['upd.com', 'new.upd.org'], {
        name: 'Updated',
        includeSubdomains: true,
        vault: { url: 'https://new.veevavault.com', apiVersion: 'v25.2', auth: { mode: 'oauth', profileId: 'p1' } },
      }),
      t.deps,
    );
    assert.equal(again.created, false);
    assert.equal(again.schema, first.schema);
    const { rows } = await t.pool.query(
      'SELECT d.domain, d.include_subdomains, t.display_name, t.vault FROM control.tenant_domains d JOIN control.tenants t ON t.id = d.tenant_id WHERE t.id = $1 ORDER BY 1',
      ['upd'],
    );
    assert.deepEqual(
      rows.map((r) => [r.domain, r.include_subdomains]),
      [
        ['new.upd.org', true],
        ['upd.com', true],
      ],
    );
    assert.equal(rows[0].display_name, 'Updated');
    assert.equal(rows[0].vault.url, 'https://new.veevavault.com');
  });

  it("refuses another tenant's domain and public domains, changing nothing", async () => {
    await assert.rejects(provisionTenant(t.pool, tenantInput('thief', ['acme.com']), t.deps), code('ERR_CONFLICT'));
    await assert.rejects(
      provisionTenant(t.pool, tenantInput('webmail', ['gmail.com']), t.deps),
      code('ERR_BAD_REQUEST'),
    );
    await assert.rejects(
      provisionTenant(t.pool, tenantInput('webmail', ['mail.gmail.com']), t.deps),
      code('ERR_BAD_REQUEST'),
    );
    const { rowCount } = await t.pool.query("SELECT 1 FROM control.tenants WHERE id IN ('thief', 'webmail')");
    assert.equal(rowCount, 0);
  });

  it('a failing tenant migration leaves no schema, role or control row behind (one transaction)', async () => {
    const broken = {
      ...t.deps,
      migrations: [...t.deps.migrations, { name: '9999_broken.sql', sql: 'SELECT 1/0', sha256: 'x' }],
    };
    const before = await t.pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_namespace WHERE nspname ~ '^t_'",
    );
    await assert.rejects(provisionTenant(t.pool, tenantInput('halfway', ['halfway.com']), broken), { code: '22012' });
    const afterNs = await t.pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_namespace WHERE nspname ~ '^t_'",
    );
    assert.equal(afterNs.rows[0]!.n, before.rows[0]!.n);
    assert.equal((await t.pool.query("SELECT 1 FROM control.tenants WHERE id = 'halfway'")).rowCount, 0);
    assert.equal((await t.pool.query("SELECT 1 FROM control.tenant_domains WHERE domain = 'halfway.com'")).rowCount, 0);
  });

  it('soft removal keeps the data and frees the domains; adding the id again restores it', async () => {
    const p = await provisionTenant(t.pool, tenantInput('soft', ['soft.com']), t.deps);
    const mark = canary('SOFT');
    await plantCanary(t.pool, p, mark);
    await t.pool.query(
      "INSERT INTO control.api_keys (id, tenant_id, name, secret_sha256) VALUES ('k1', 'soft', 'ci', '\\x00')",
    );
    const r = await removeTenant(t.pool, 'soft');
    assert.equal(r.dropped, false);
    const row = await t.pool.query("SELECT removed_at IS NOT NULL AS removed FROM control.tenants WHERE id = 'soft'");
    assert.equal(row.rows[0].removed, true);
    assert.equal((await t.pool.query("SELECT 1 FROM control.tenant_domains WHERE tenant_id = 'soft'")).rowCount, 0);
    assert.equal(
      (await t.pool.query("SELECT revoked_at IS NOT NULL AS revoked FROM control.api_keys WHERE id = 'k1'")).rows[0]
        .revoked,
      true,
    );
    assert.equal((await exists(t, p.schema)).ns, true);
    // The freed domain can go to another tenant, and the old tenant can come back with its data.
    const back = await provisionTenant(t.pool, tenantInput('soft', ['soft.com']), t.deps);
    assert.equal(back.schema, p.schema);
    assert.ok((await dumpTenant(t.pool, back)).includes(mark));
  });

  it('hard removal (--drop-schema) deletes schema, role, rows and migration history', async () => {
    const p = await provisionTenant(t.pool, tenantInput('hard', ['hard.com']), t.deps);
    await plantCanary(t.pool, p, canary('HARD'));
    const r = await removeTenant(t.pool, 'hard', { dropSchema: true });
    assert.equal(r.dropped, true);
    assert.deepEqual(await exists(t, p.schema), { ns: false, role: false, migrations: '0' });
    assert.equal((await t.pool.query("SELECT 1 FROM control.tenants WHERE id = 'hard'")).rowCount, 0);
    await assert.rejects(withTenant(t.pool, p, (tx) => tx.query('SELECT 1')));
    await assert.rejects(removeTenant(t.pool, 'hard'), code('ERR_TENANT_NOT_FOUND'));
  });
});
