/**
 * Tenants for tests that do not need domain resolution: a control.tenants row plus `migrate()`, so the
 * schema, its tables and its role exist exactly as in production.
 */
import { migrate } from '../../src/db/migrate.js';
import type { Pool } from '../../src/db/pool.js';
import { generateSchemaName, parseSchemaName } from '../../src/db/schema-name.js';
import type { Tenant } from '../../src/tenancy/tenant.js';

export async function createTenantFixture(pool: Pool, id: string): Promise<Tenant> {
  const schema = generateSchemaName();
  await migrate(pool); // control tables first
  await pool.query('INSERT INTO control.tenants (id, schema_name) VALUES ($1, $2)', [id, schema]);
  const report = await migrate(pool);
  const failed = report.tenants.find((t) => t.error);
  if (failed) throw new Error(`tenant ${id} failed to migrate: ${failed.error}`);
  return {
    id,
    name: undefined,
    schema,
    vault: {
      url: 'http://127.0.0.1:1',
      apiVersion: 'v25.2',
      auth: { mode: 'service_account', username: 'bot@example.com' },
    },
  };
}

/** A tenant the server already provisioned (e.g. the default `acme` of startTestServer), as the resolver sees it. */
export async function existingTenant(pool: Pool, id: string): Promise<Tenant> {
  const { rows } = await pool.query<{ schema_name: string; name: string | null; vault: Tenant['vault'] }>(
    'SELECT schema_name, display_name AS name, vault FROM control.tenants WHERE id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) throw new Error(`tenant ${id} does not exist`);
  return { id, name: row.name ?? undefined, schema: parseSchemaName(row.schema_name), vault: row.vault };
}
