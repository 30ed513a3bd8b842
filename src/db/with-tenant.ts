/**
 * `withTenant()`: the only way to run SQL against a tenant's schema.
 *
 * One checked-out client, one transaction; `set_config('search_path', …, true)` is `SET LOCAL` with
 * a bind parameter, so it reverts at COMMIT/ROLLBACK, cannot leak to the next pool user and is safe
 * behind PgBouncer in transaction mode. The path is the tenant schema only (plus `pg_catalog`
 * implicitly), never `public` or `control`, so a table missing from a half-migrated tenant fails
 * with 42P01 instead of silently resolving elsewhere. `SET LOCAL ROLE` to the tenant's own role makes
 * privileges, not only the path, keep tenants apart.
 *
 * @module
 */
import type { Pool, PoolClient } from './pool.js';
import { ident, type SchemaName } from './schema-name.js';

declare const txBrand: unique symbol;

/** A transaction scoped to one tenant. Repository functions take this as their first argument. */
export interface TenantTx {
  readonly [txBrand]: true;
  readonly schema: SchemaName;
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>;
}

/**
 * Run `fn` in a transaction bound to the tenant's schema and role.
 *
 * @example
 * const rows = await withTenant(pool, schema, (tx) => tx.query('SELECT count(*) FROM audit_log'));
 */
export async function withTenant<T>(pool: Pool, schema: SchemaName, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    // ident() output is a double-quoted identifier, the form search_path expects.
    await client.query("SELECT set_config('search_path', $1, true)", [ident(schema)]);
    await client.query(`SET LOCAL ROLE ${ident(schema)}`);
    const tx = makeTx(client, schema);
    const result = await fn(tx);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // A connection that cannot roll back is not returned to the pool.
      broken = true;
    }
    throw e;
  } finally {
    client.release(broken);
  }
}

function makeTx(client: PoolClient, schema: SchemaName): TenantTx {
  return {
    schema,
    async query(text, values) {
      const r = await client.query(text, values);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
  } as TenantTx;
}
