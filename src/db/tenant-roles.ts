/**
 * Per-tenant database roles (DB_TENANT_ROLES, on by default). Each tenant schema has a NOLOGIN role of
 * the same name holding USAGE on its own schema and DML on its own tables (append-only on the audit
 * log), nothing else. `withTenant`
 * runs `SET LOCAL ROLE` to it, so a wrong search_path or a hand-written `t_other.x` fails with 42501
 * (permission denied) instead of reading another tenant. Tables stay owned by the migrating user, so
 * the tenant role cannot drop or alter them either.
 *
 * Roles are cluster-wide: names are the random schema names, so two databases never share one.
 *
 * @module
 */
import pg from 'pg';
import type { Pool, PoolClient } from './pool.js';
import { ident, type SchemaName } from './schema-name.js';

/**
 * Tenant tables the tenant role may read and append to, never rewrite: the audit trail must survive a
 * bug (or a compromised tool) in the request path. Retention jobs run as the owning user instead.
 */
export const APPEND_ONLY_TABLES = ['audit_log'] as const;

/**
 * Create the tenant's role if missing, let the current user SET ROLE to it, and grant it exactly its
 * own schema's tables and sequences. Runs inside the caller's transaction (migration, provisioning).
 *
 * @example
 * await ensureTenantRole(client, schema);
 */
export async function ensureTenantRole(client: PoolClient, schema: SchemaName): Promise<void> {
  const role = ident(schema);
  const { rows } = await client.query<{ exists: boolean; member: boolean | null }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists,
            (SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1) AS member`,
    [schema],
  );
  if (!rows[0]?.exists) await client.query(`CREATE ROLE ${role} NOLOGIN NOINHERIT`);
  // Superusers are members of every role; a CREATEROLE user must grant itself membership to SET ROLE.
  // No catch here: a failed statement would poison the transaction, and failing loudly is the point.
  if (!rows[0]?.member) await client.query(`GRANT ${role} TO CURRENT_USER`);
  await grantTenantSchema(client, schema, role);
}

/** What a role that serves a tenant may do in its schema: read and write, the audit log append-only. */
async function grantTenantSchema(client: PoolClient, schema: SchemaName, grantee: string): Promise<void> {
  const s = ident(schema);
  await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${grantee}`);
  await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${grantee}`);
  for (const table of APPEND_ONLY_TABLES) {
    const { rowCount } = await client.query('SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2', [
      schema,
      table,
    ]);
    if (rowCount) await client.query(`REVOKE UPDATE, DELETE, TRUNCATE ON ${s}.${table} FROM ${grantee}`);
  }
  await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${grantee}`);
}

/**
 * MIGRATION_DATABASE_URL: the server runs as a role that owns nothing. Give it exactly what serving
 * needs in one tenant schema: membership of the tenant role (DB_TENANT_ROLES, so `SET LOCAL ROLE`
 * works), or the same privileges granted directly when tenant roles are off. Either way the audit
 * log stays SELECT + INSERT only, and since the serving role does not own the table it cannot
 * disable or drop the append-only trigger (ALTER TABLE needs ownership).
 *
 * @example
 * await grantServingRole(client, schema, 'vault_mcp_app', true);
 */
export async function grantServingRole(
  client: PoolClient,
  schema: SchemaName,
  servingRole: string,
  roles: boolean,
): Promise<void> {
  const serving = pg.escapeIdentifier(servingRole);
  const s = ident(schema);
  if (roles) {
    await client.query(`GRANT ${s} TO ${serving}`);
    return;
  }
  await grantTenantSchema(client, schema, serving);
}

/**
 * The serving role's access to the shared control schema: read and write the control tables (API key
 * bookkeeping, personal tenants, what later features add), read the migration history (readiness),
 * never write it. Re-run after every migration so new control tables are covered.
 *
 * @example
 * await grantControlToServingRole(client, 'vault_mcp_app');
 */
export async function grantControlToServingRole(client: PoolClient, servingRole: string): Promise<void> {
  const serving = pg.escapeIdentifier(servingRole);
  await client.query(`GRANT USAGE ON SCHEMA control TO ${serving}`);
  await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA control TO ${serving}`);
  await client.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON control.schema_migrations FROM ${serving}`);
  await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA control TO ${serving}`);
}

/**
 * How many of our tables (control and tenant schemas) `role` owns. With MIGRATION_DATABASE_URL the
 * serving role should own none: an owner can disable the audit trigger. A deployment that switched to
 * the split keeps the old owner until `REASSIGN OWNED BY <serving> TO <owner>` is run.
 *
 * @example
 * if (await tablesOwnedBy(pool, 'vault_mcp_app')) log.warn('…');
 */
export async function tablesOwnedBy(pool: Pool, role: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_tables WHERE tableowner = $1 AND (schemaname = 'control' OR schemaname ~ '^t_[0-9a-f]{32}$')",
    [role],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Drop the tenant's role (after its schema was dropped). Privileges it holds elsewhere in this
 * database are revoked first, so the DROP cannot fail on leftovers.
 *
 * @example
 * await dropTenantRole(client, schema);
 */
export async function dropTenantRole(client: PoolClient, schema: SchemaName): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [schema]);
  if (!rowCount) return;
  await client.query(`DROP OWNED BY ${ident(schema)}`);
  await client.query(`DROP ROLE ${ident(schema)}`);
}

/**
 * Boot check: with tenant roles on, the database user must be able to create roles. Fails closed with
 * a message naming the fix, instead of failing later on the first provisioning.
 *
 * @example
 * await assertCanManageTenantRoles(pool); // throws when DB_TENANT_ROLES=true but no CREATEROLE
 */
export async function assertCanManageTenantRoles(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ name: string; ok: boolean }>(
    'SELECT rolname AS name, (rolsuper OR rolcreaterole) AS ok FROM pg_roles WHERE rolname = current_user',
  );
  const me = rows[0];
  if (!me?.ok) {
    throw new Error(
      `DB_TENANT_ROLES=true but the database user ${JSON.stringify(me?.name ?? '?')} cannot create roles: ` +
        'grant it CREATEROLE (ALTER ROLE … CREATEROLE) or set DB_TENANT_ROLES=false (isolation then rests on search_path only; see docs/tenancy.md)',
    );
  }
}
