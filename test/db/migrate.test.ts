import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { assertCanManageTenantRoles } from '../../src/db/tenant-roles.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { createTenantDb, tenantInput, type TenantDb } from '../helpers/tenants.js';

const run = promisify(execFile);

/** Run an admin CLI the way `npm run …` does; resolves with the exit code and output. */
async function cli(script: string, args: string[], env: Record<string, string>) {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, NODE_ENV: 'test', ...env },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe('migration runner and admin CLIs', () => {
  let t: TenantDb;
  before(async () => {
    t = await createTenantDb();
  });
  after(async () => {
    await t?.close();
  });

  it('leaves up-to-date tenants alone', async () => {
    await t.provision([tenantInput('m-a', ['m-a.com']), tenantInput('m-b', ['m-b.com'])]);
    const report = await migrate(t.pool);
    assert.deepEqual(report.tenants, []);
  });

  it('re-creates a missing tenant role', async () => {
    const { rows } = await t.pool.query<{ schema_name: string }>(
      "SELECT schema_name FROM control.tenants WHERE id = 'm-a'",
    );
    const schema = rows[0]!.schema_name;
    await t.pool.query(`DROP OWNED BY ${pg.escapeIdentifier(schema)}`);
    await t.pool.query(`DROP ROLE ${pg.escapeIdentifier(schema)}`);
    const report = await migrate(t.pool);
    assert.deepEqual(
      report.tenants.map((x) => [x.schema, x.error]),
      [[schema, undefined]],
    );
    const who = await withTenant(t.pool, schema as never, (tx) => tx.query<{ u: string }>('SELECT current_user AS u'));
    assert.equal(who.rows[0]!.u, schema);
  });

  it('reports a drifted tenant, migrates the others, and `npm run migrate` exits non-zero', async () => {
    await t.provision([tenantInput('m-c', ['m-c.com'])]);
    const { rows } = await t.pool.query<{ id: string; schema_name: string }>(
      "SELECT id, schema_name FROM control.tenants WHERE id IN ('m-b', 'm-c') ORDER BY id",
    );
    const [b, c] = rows;
    // m-b: an applied file whose content "changed"; m-c: a file not applied yet.
    await t.pool.query("UPDATE control.schema_migrations SET sha256 = 'tampered' WHERE scope = $1", [b!.schema_name]);
    await t.pool.query("DELETE FROM control.schema_migrations WHERE scope = $1 AND name = '0001_init.sql'", [
      c!.schema_name,
    ]);
    await t.pool.query(
      `DROP TABLE ${pg.escapeIdentifier(c!.schema_name)}.audit_log, ${pg.escapeIdentifier(c!.schema_name)}.vault_sessions, ${pg.escapeIdentifier(c!.schema_name)}.user_mappings`,
    );
    const r = await cli('src/cli/migrate.ts', [], { DATABASE_URL: t.db.url });
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, new RegExp(`${b!.schema_name}: FAILED: .*sha256 mismatch`));
    assert.match(r.out, new RegExp(`${c!.schema_name}: 0001_init\\.sql`));
    assert.match(r.out, /2 tenant\(s\) needed work, 1 failed/);
  });

  it('`npm run tenants` adds, lists and removes', async () => {
    const env = { DATABASE_URL: t.db.url };
    const add = await cli(
      'src/cli/tenants.ts',
      [
        'add',
        'cli-co',
        '--domain',
        'cli.example',
        '--vault-url',
        'https://cli.veevavault.com',
        '--auth-mode',
        'service_account',
        '--username',
        'bot@cli.example',
      ],
      env,
    );
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /created tenant cli-co \(schema t_[0-9a-f]{32}; domains cli\.example\)/);
    const list = await cli('src/cli/tenants.ts', ['list', '--json'], env);
    assert.ok((JSON.parse(list.out) as { id: string }[]).some((x) => x.id === 'cli-co'));
    const bad = await cli(
      'src/cli/tenants.ts',
      [
        'add',
        'cli-co2',
        '--domain',
        'gmail.com',
        '--vault-url',
        'https://x.veevavault.com',
        '--auth-mode',
        'oauth',
        '--profile-id',
        'p',
      ],
      env,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.err, /public email domain/);
    const noYes = await cli('src/cli/tenants.ts', ['remove', 'cli-co', '--drop-schema'], env);
    assert.equal(noYes.code, 64);
    const rm = await cli('src/cli/tenants.ts', ['remove', 'cli-co'], env);
    assert.equal(rm.code, 0, rm.err);
    assert.match(rm.out, /data are kept/);
  });

  it('with tenant roles on, a database user without CREATEROLE stops the boot with a clear message', async () => {
    const name = `vmcp_norole_${randomBytes(4).toString('hex')}`;
    await t.pool.query(`CREATE ROLE ${name} LOGIN PASSWORD 'x'`);
    const url = new URL(t.db.url);
    url.username = name;
    url.password = 'x';
    const pool = createPool({ url: url.toString(), max: 1, statementTimeoutMs: 5000 });
    try {
      await assert.rejects(
        assertCanManageTenantRoles(pool),
        /DB_TENANT_ROLES=true but the database user "vmcp_norole_[0-9a-f]+" cannot create roles/,
      );
      await t.pool.query(`ALTER ROLE ${name} CREATEROLE`);
      await assertCanManageTenantRoles(pool);
    } finally {
      await pool.end();
      await t.pool.query(`DROP ROLE ${name}`);
    }
  });
});
