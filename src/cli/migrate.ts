/**
 * `npm run migrate`: apply control and tenant migrations (the release step). Prints one line per tenant
 * migrated and exits non-zero when any tenant failed; the others are still migrated.
 *
 * @module
 */
import { migrate } from '../db/migrate.js';
import { assertCanManageTenantRoles } from '../db/tenant-roles.js';
import { runCli } from './run-cli.js';

const USAGE = 'usage: npm run migrate  (env: DATABASE_URL, DB_TENANT_ROLES, …; see docs/tenancy.md)';

await runCli('migrate', USAGE, async ({ pool, config, out }) => {
  if (config.db.tenantRoles) await assertCanManageTenantRoles(pool);
  const report = await migrate(pool);
  out(`control: ${report.control.length ? report.control.join(', ') : 'up to date'}`);
  for (const t of report.tenants) {
    out(`${t.schema}: ${t.error ? `FAILED: ${t.error}` : t.applied.length ? t.applied.join(', ') : 'ok'}`);
  }
  const failed = report.tenants.filter((t) => t.error).length;
  out(`${report.tenants.length} tenant(s) needed work, ${failed} failed`);
  return failed ? 1 : 0;
});
