/**
 * Removing a tenant. The default is a SOFT removal: the tenant stops resolving, its domains are released
 * and its API keys revoked, but its schema (audit log included) stays, and `tenants add` with the same
 * id brings it back. `dropSchema: true` is the hard delete: schema, role, control rows and migration
 * history go, in one transaction. There is no undo for that one.
 *
 * @module
 */
import { inTransaction } from '../db/in-transaction.js';
import { LOCK_NS } from '../db/migrate.js';
import type { Pool } from '../db/pool.js';
import { ident, parseSchemaName, type SchemaName } from '../db/schema-name.js';
import { dropTenantRole } from '../db/tenant-roles.js';
import { AppError } from '../errors/index.js';

/**
 * @example
 * await removeTenant(pool, 'acme');                       // soft: data kept
 * await removeTenant(pool, 'acme', { dropSchema: true }); // hard: data gone
 */
export async function removeTenant(
  pool: Pool,
  id: string,
  opts: { dropSchema?: boolean } = {},
): Promise<{ schema: SchemaName; dropped: boolean }> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NS, `tenant:${id}`]);
    const { rows } = await client.query<{ schema_name: string }>(
      'SELECT schema_name FROM control.tenants WHERE id = $1 FOR UPDATE',
      [id],
    );
    if (!rows[0]) throw new AppError('ERR_TENANT_NOT_FOUND', `No tenant with id "${id}"`);
    const schema = parseSchemaName(rows[0].schema_name);
    if (!opts.dropSchema) {
      await client.query('DELETE FROM control.tenant_domains WHERE tenant_id = $1', [id]);
      await client.query('UPDATE control.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1', [
        id,
      ]);
      await client.query(
        'UPDATE control.tenants SET removed_at = coalesce(removed_at, now()), updated_at = now() WHERE id = $1',
        [id],
      );
      return { schema, dropped: false };
    }
    // Same lock as migrations of this schema, so a concurrent runner cannot recreate it half-way.
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NS, schema]);
    await client.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
    await dropTenantRole(client, schema);
    await client.query('DELETE FROM control.schema_migrations WHERE scope = $1', [schema]);
    await client.query('DELETE FROM control.tenants WHERE id = $1', [id]);
    return { schema, dropped: true };
  });
}
