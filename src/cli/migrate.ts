/**
 * `npm run migrate`: apply control and tenant migrations (the release step). Prints one line per tenant
 * migrated and exits non-zero when any tenant failed; the others are still migrated. Connects as
 * MIGRATION_DATABASE_URL's role when set (the owner), and grants DATABASE_URL's role what serving needs.
 *
 * @module
 */
import { migrate } from '../db/migrate.js';
import { assertCanManageTenantRoles, tablesOwnedBy } from '../db/tenant-roles.js';
import { runCli } from './run-cli.js';

const USAGE =
  'usage: npm run migrate  (env: DATABASE_URL, MIGRATION_DATABASE_URL, DB_TENANT_ROLES, …; see docs/tenancy.md)';

await runCli('migrate', USAGE, async ({ db, config, out }) => {
  if (config.db.tenantRoles) await assertCanManageTenantRoles(db.adminPool);
  const servingRole = await db.servingRole();
  const report = await migrate(db.adminPool, { servingRole });
  if (servingRole) {
    const owned = await tablesOwnedBy(db.adminPool, servingRole);
    out(
      owned
        ? `WARNING: serving role ${servingRole} still owns ${owned} table(s) and could disable the audit trigger: run REASSIGN OWNED BY ${servingRole} TO <owner role>`
        : `serving role ${servingRole}: granted (it owns nothing; audit_log is SELECT + INSERT only)`,
    );
  }
  out(`control: ${report.control.length ? report.control.join(', ') : 'up to date'}`);
  for (const t of report.tenants) {
    out(`${t.schema}: ${t.error ? `FAILED: ${t.error}` : t.applied.length ? t.applied.join(', ') : 'ok'}`);
  }
  const failed = report.tenants.filter((t) => t.error).length;
  out(`${report.tenants.length} tenant(s) needed work, ${failed} failed`);
  return failed ? 1 : 0;
});
