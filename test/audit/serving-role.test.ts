/**
 * MIGRATION_DATABASE_URL (issue #12): the server runs as a second, real Postgres role that owns
 * nothing. It serves and writes audit rows, and cannot UPDATE, DELETE, TRUNCATE the audit log nor
 * disable or drop its append-only trigger, directly or through the tenant role.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createAuditKeys } from '../../src/audit/keys.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { callWhoami } from '../helpers/mcp.js';
import { startTestServer, TEST_SECRET_KEY, withUser, type TestServer } from '../helpers/server.js';
import { existingTenant } from '../helpers/tenant-fixture.js';

const run = promisify(execFile);

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

for (const tenantRoles of ['true', 'false'] as const) {
  describe(`the server as a non-owner role (DB_TENANT_ROLES=${tenantRoles})`, () => {
    const role = `vmcp_srv_${randomBytes(5).toString('hex')}`;
    let s: TestServer;
    let owner: Pool;
    let serving: pg.Client;
    before(async () => {
      await admin(`CREATE ROLE ${role} LOGIN`);
      s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0', DB_TENANT_ROLES: tenantRoles }, { servingRole: role });
      owner = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000, tenantRoles: tenantRoles === 'true' });
      serving = new pg.Client({ connectionString: withUser(s.db.url, role) });
      await serving.connect();
    });
    after(async () => {
      await serving?.end();
      await owner?.end();
      await s?.close();
      await admin(`DROP ROLE IF EXISTS ${role}`);
    });

    it('serves and audits as the serving role, which owns no table', async () => {
      const me = await callWhoami(s.url, await s.token({ email: 'ann@acme.com' }));
      assert.equal(me.tenant, 'acme');
      const acme = await existingTenant(owner, 'acme');
      const { rows } = await owner.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${acme.schema}.audit_log WHERE tool = 'whoami'`,
      );
      assert.equal(rows[0]!.n, '1');
      const owned = await owner.query(
        "SELECT schemaname, tablename FROM pg_tables WHERE tableowner = $1 AND schemaname ~ '^(control|t_)'",
        [role],
      );
      assert.deepEqual(owned.rows, [], 'the serving role owns nothing');
      const v = await verifyAuditChain(owner, acme, { keys: createAuditKeys(TEST_SECRET_KEY) });
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.notEqual(v.keyedFrom, null);
    });

    it('cannot rewrite the audit log or switch its trigger off, directly or through the tenant role', async () => {
      const acme = await existingTenant(owner, 'acme');
      const t = `${acme.schema}.audit_log`;
      const refused = async (sql: string, viaTenantRole = false) => {
        await serving.query('BEGIN');
        try {
          if (viaTenantRole) await serving.query(`SET LOCAL ROLE ${acme.schema}`);
          await assert.rejects(serving.query(sql), (e: { code?: string }) => e.code === '42501', sql);
        } finally {
          await serving.query('ROLLBACK');
        }
      };
      for (const sql of [
        `UPDATE ${t} SET outcome = 'denied'`,
        `DELETE FROM ${t}`,
        `TRUNCATE ${t}`,
        `ALTER TABLE ${t} DISABLE TRIGGER audit_log_append_only`,
        `ALTER TABLE ${t} DISABLE TRIGGER ALL`,
        `DROP TRIGGER audit_log_append_only ON ${t}`,
        `ALTER TABLE ${t} OWNER TO ${role}`,
        `DROP TABLE ${t}`,
        "SET session_replication_role = 'replica'",
        "INSERT INTO control.schema_migrations (scope, name, sha256) VALUES ('control', '9999_x.sql', 'x')",
      ]) {
        await refused(sql);
        if (tenantRoles === 'true' && sql.includes(t)) await refused(sql, true);
      }
      // It may append (that is how the server audits) and read.
      await serving.query('BEGIN');
      await serving.query(`INSERT INTO ${t} (subject, outcome) VALUES ('probe', 'ok')`);
      await serving.query('ROLLBACK');
    });

    it('tenants added later through the CLI (as the owner) are granted to the serving role', async () => {
      const env = {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: withUser(s.db.url, role),
        MIGRATION_DATABASE_URL: s.db.url,
        DB_TENANT_ROLES: tenantRoles,
      };
      const cli = (script: string, ...args: string[]) =>
        run(process.execPath, ['--import', 'tsx', `src/cli/${script}.ts`, ...args], { env });
      const added = await cli(
        'tenants',
        'add',
        'later',
        '--domain',
        'later.com',
        '--vault-url',
        'https://later.veevavault.com',
        '--auth-mode',
        'service_account',
        '--username',
        'bot@later.com',
      );
      assert.match(added.stdout, /created tenant later/);
      const me = await callWhoami(s.url, await s.token({ email: 'bob@later.com' }));
      assert.equal(me.tenant, 'later');
      const migrated = await cli('migrate');
      assert.match(migrated.stdout, new RegExp(`serving role ${role}: granted`));
      // A deployment that switched to the split without handing its tables to the owner is told so.
      await owner.query(`ALTER TABLE control.api_keys OWNER TO ${role}`);
      try {
        const warned = await cli('migrate');
        assert.match(warned.stdout, new RegExp(`WARNING: serving role ${role} still owns 1 table\\(s\\)`));
      } finally {
        await owner.query(`ALTER TABLE control.api_keys OWNER TO CURRENT_USER`);
      }
    });
  });
}
