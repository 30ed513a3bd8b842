/**
 * The migration runner: forward-only SQL files in `migrations/control` (the shared `control` schema)
 * and `migrations/tenant` (applied to every tenant schema), with a SHA-256 per applied file.
 *
 * - One global session advisory lock, so replicas booting together do not race.
 * - Each tenant is migrated in one transaction under a per-tenant transaction lock (the same lock
 *   provisioning takes), so a tenant is never half-migrated.
 * - A failed tenant does not stop the others; the report lists each and the caller exits non-zero.
 * - An applied file whose content changed is refused (drift is an error, not a warning).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inTransaction } from './in-transaction.js';
import { tenantRolesEnabled, type Pool, type PoolClient } from './pool.js';
import { ident, parseSchemaName, type SchemaName } from './schema-name.js';
import { ensureTenantRole, grantControlToServingRole, grantServingRole } from './tenant-roles.js';

/** Advisory-lock namespace ('vmcp'); the second key is 0 for the global lock, hashtext(schema) per tenant. */
export const LOCK_NS = 0x766d6370;

export interface MigrationFile {
  name: string;
  sql: string;
  sha256: string;
}

export interface Migrations {
  control: MigrationFile[];
  tenant: MigrationFile[];
}

export interface MigrateReport {
  control: string[];
  tenants: { schema: SchemaName; applied: string[]; error?: string }[];
}

/** Default migrations folder: `<package root>/migrations`, from src/ or dist/. */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'migrations',
);

/**
 * Read and hash the migration files.
 *
 * @example
 * const m = await loadMigrations(DEFAULT_MIGRATIONS_DIR);
 */
export async function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<Migrations> {
  const read = async (sub: string) => {
    const names = (await readdir(path.join(dir, sub))).filter((n) => /^\d{4}_[\w-]+\.sql$/.test(n)).sort();
    return Promise.all(
      names.map(async (name) => {
        const sql = await readFile(path.join(dir, sub, name), 'utf8');
        return { name, sql, sha256: createHash('sha256').update(sql).digest('hex') };
      }),
    );
  };
  return { control: await read('control'), tenant: await read('tenant') };
}

const BOOTSTRAP = `
  CREATE SCHEMA IF NOT EXISTS control;
  CREATE TABLE IF NOT EXISTS control.schema_migrations (
    scope      text NOT NULL,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, name)
  );`;

async function applied(client: PoolClient, scope: string): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; sha256: string }>(
    'SELECT name, sha256 FROM control.schema_migrations WHERE scope = $1',
    [scope],
  );
  return new Map(rows.map((r) => [r.name, r.sha256]));
}

function pending(files: MigrationFile[], done: Map<string, string>, scope: string): MigrationFile[] {
  for (const f of files) {
    const sha = done.get(f.name);
    if (sha && sha !== f.sha256) {
      throw new Error(
        `migration ${scope}/${f.name} was changed after it was applied (sha256 mismatch); add a new migration instead`,
      );
    }
  }
  return files.filter((f) => !done.has(f.name));
}

/**
 * Apply every pending tenant migration to `schema` inside the caller's open transaction, then (unless
 * `roles: false`) make sure the tenant's role exists and holds exactly the privileges on its own schema.
 * Used by the runner and by provisioning (which creates the schema in the same transaction).
 *
 * @example
 * await client.query('BEGIN'); await migrateTenantInTx(client, schema, m.tenant); await client.query('COMMIT');
 */
export async function migrateTenantInTx(
  client: PoolClient,
  schema: SchemaName,
  files: MigrationFile[],
  opts: { roles?: boolean; servingRole?: string } = {},
): Promise<string[]> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NS, schema]);
  await client.query("SELECT set_config('lock_timeout', '10s', true)");
  const todo = pending(files, await applied(client, schema), `tenant(${schema})`);
  await client.query("SELECT set_config('search_path', $1, true)", [ident(schema)]);
  for (const f of todo) {
    await client.query(f.sql);
    await client.query('INSERT INTO control.schema_migrations (scope, name, sha256) VALUES ($1, $2, $3)', [
      schema,
      f.name,
      f.sha256,
    ]);
  }
  if (opts.roles ?? true) await ensureTenantRole(client, schema);
  if (opts.servingRole) await grantServingRole(client, schema, opts.servingRole, opts.roles ?? true);
  await client.query("SELECT set_config('search_path', '', true)");
  return todo.map((f) => f.name);
}

/**
 * Apply control migrations, then tenant migrations for every tenant in `control.tenants`.
 *
 * @example
 * const report = await migrate(pool);
 * if (report.tenants.some((t) => t.error)) process.exitCode = 1;
 */
export async function migrate(
  pool: Pool,
  opts: {
    migrations?: Migrations;
    concurrency?: number;
    /** MIGRATION_DATABASE_URL: `pool` is the owner; this role (DATABASE_URL's) serves and gets grants. */
    servingRole?: string;
  } = {},
): Promise<MigrateReport> {
  const m = opts.migrations ?? (await loadMigrations());
  const lockClient = await pool.connect();
  const report: MigrateReport = { control: [], tenants: [] };
  try {
    await lockClient.query('SELECT pg_advisory_lock($1, 0)', [LOCK_NS]);
    try {
      await lockClient.query(BOOTSTRAP);
      await lockClient.query('BEGIN');
      try {
        for (const f of pending(m.control, await applied(lockClient, 'control'), 'control')) {
          await lockClient.query(f.sql);
          await lockClient.query('INSERT INTO control.schema_migrations (scope, name, sha256) VALUES ($1, $2, $3)', [
            'control',
            f.name,
            f.sha256,
          ]);
          report.control.push(f.name);
        }
        if (opts.servingRole) await grantControlToServingRole(lockClient, opts.servingRole);
        await lockClient.query('COMMIT');
      } catch (e) {
        await lockClient.query('ROLLBACK');
        throw e;
      }
      // Re-list until no tenant is behind: catches tenants provisioned while we ran. Tenants already
      // up to date are not touched, so a boot with thousands of tenants costs one query.
      const roles = tenantRolesEnabled(pool);
      const seen = new Set<string>();
      for (;;) {
        const schemas = (await listTenantsNeedingWork(lockClient, m.tenant, roles, opts.servingRole)).filter(
          (s) => !seen.has(s),
        );
        if (!schemas.length) break;
        schemas.forEach((s) => seen.add(s));
        await runPool(schemas, opts.concurrency ?? 4, async (schema) => {
          report.tenants.push(await migrateOneTenant(pool, schema, m.tenant, roles, opts.servingRole));
        });
      }
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_NS]).catch(() => undefined);
    }
  } finally {
    lockClient.release();
  }
  return report;
}

/**
 * Tenants with a missing file, a changed file (sha256; migrating them reports the drift), a missing
 * schema, or (with roles on) a missing role.
 */
async function listTenantsNeedingWork(
  client: PoolClient,
  files: MigrationFile[],
  roles: boolean,
  servingRole: string | undefined,
): Promise<SchemaName[]> {
  const { rows } = await client.query<{ schema_name: string }>(
    `SELECT t.schema_name FROM control.tenants t
      WHERE (SELECT count(*) FROM control.schema_migrations s
               JOIN unnest($1::text[], $2::text[]) AS f(name, sha) ON f.name = s.name AND f.sha = s.sha256
              WHERE s.scope = t.schema_name) < $3
         OR NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = t.schema_name)
         OR ($4 AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = t.schema_name))
         OR ($5::text IS NOT NULL AND $4 AND NOT EXISTS (
               SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                WHERE r.rolname = t.schema_name AND u.rolname = $5))
         OR ($5::text IS NOT NULL AND NOT $4 AND NOT EXISTS (
               SELECT 1 FROM pg_namespace n WHERE n.nspname = t.schema_name AND has_schema_privilege($5, n.oid, 'USAGE')))
      ORDER BY t.id`,
    [files.map((f) => f.name), files.map((f) => f.sha256), files.length, roles, servingRole ?? null],
  );
  return rows.map((r) => parseSchemaName(r.schema_name));
}

async function migrateOneTenant(
  pool: Pool,
  schema: SchemaName,
  files: MigrationFile[],
  roles: boolean,
  servingRole: string | undefined,
) {
  try {
    const appliedNow = await inTransaction(pool, async (client) => {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
      return migrateTenantInTx(client, schema, files, { roles, servingRole });
    });
    return { schema, applied: appliedNow };
  } catch (e) {
    return { schema, applied: [], error: (e as Error).message };
  }
}

async function runPool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/**
 * Whether the database is fully migrated, for `/readyz`.
 *
 * @example
 * const s = await migrationStatus(pool, m); if (!s.ready) res.status(503);
 */
export async function migrationStatus(
  pool: Pool,
  m: Migrations,
): Promise<{ ready: boolean; pendingControl: number; tenantsBehind: number }> {
  const { rows } = await pool.query<{ c: string; behind: string; ctl: string }>(
    `SELECT
       (SELECT count(*) FROM control.schema_migrations WHERE scope = 'control') AS ctl,
       (SELECT count(*) FROM control.tenants t
          WHERE (SELECT count(*) FROM control.schema_migrations s WHERE s.scope = t.schema_name) < $1) AS behind`,
    [m.tenant.length],
  );
  const row = rows[0]!;
  const pendingControl = Math.max(0, m.control.length - Number(row.ctl));
  const tenantsBehind = Number(row.behind);
  return { ready: pendingControl === 0 && tenantsBehind === 0, pendingControl, tenantsBehind };
}
