/**
 * `withTenant()`: the only way to run SQL against a tenant's schema.
 *
 * One checked-out client, one transaction; the search_path set with `set_config(…, true)` (SET LOCAL) reverts at COMMIT/ROLLBACK, cannot
 * leak to the next pool user and is safe behind PgBouncer in transaction mode. BEGIN, the path and the
 * role go to Postgres in ONE round trip (a multi-statement simple query): the schema name is
 * re-validated by `parseSchemaName` (`t_` + 32 hex) and quoted by `ident`, so nothing else can reach
 * that string. The path is the tenant schema only (plus `pg_catalog`
 * implicitly), never `public` or `control`, so a table missing from a half-migrated tenant fails
 * with 42P01 instead of silently resolving elsewhere. `SET LOCAL ROLE` to the tenant's own role makes
 * privileges, not only the path, keep tenants apart (unless DB_TENANT_ROLES=false).
 *
 * `pg_temp` is listed last on purpose: left implicit it is searched *first*, so a temp table left on
 * a pooled connection could shadow a tenant table. A `TenantTx` is dead once `withTenant` returns: a
 * reference that escaped (a late callback) must not run on a connection now serving another tenant.
 *
 * @module
 */
import pg from 'pg';
import { tenantRolesEnabled, type Pool, type PoolClient } from './pool.js';
import { ident, parseSchemaName, type SchemaName } from './schema-name.js';
import { inTransaction } from './in-transaction.js';

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
 * Statements that would move the transaction out of its tenant. Our SQL never needs them; refusing them
 * turns a future bug (or an injected string) into an error instead of a cross-tenant read.
 */
const ESCAPE_RE =
  /(?:^|;)\s*(?:(?:set|reset)\s+(?:(?:local|session)\s+)?(?:role|session\s+authorization|search_path)\b|discard\b)|\bset_config\s*\(/i;

/**
 * Run `fn` in a transaction bound to the tenant's schema and role. Accepts a Tenant or its schema.
 * Do not nest calls: with a small pool the inner call waits for the connection the outer one holds.
 *
 * @example
 * const rows = await withTenant(pool, tenant, (tx) => tx.query('SELECT count(*) FROM audit_log'));
 */
export async function withTenant<T>(
  pool: Pool,
  tenant: SchemaName | { schema: SchemaName },
  fn: (tx: TenantTx, first: Record<string, unknown>[]) => Promise<T>,
  opts: {
    /**
     * Constant SQL (never user input) run after the tenant setup in the same round trip as BEGIN, as
     * the simple-query protocol allows; `fn` gets the rows of its last statement. Each statement still
     * takes its own snapshot, so a read after a lock statement sees what the lock's holder committed.
     */
    first?: string;
  } = {},
): Promise<T> {
  // Re-checked at run time: a cast (`'public' as SchemaName`) must not reach SQL.
  const schema = parseSchemaName(typeof tenant === 'string' ? tenant : tenant.schema);
  // ident() output is a double-quoted identifier, the form search_path expects.
  // set_config(…, true) is SET LOCAL, and keeps the path exactly as given (quoted).
  const setup =
    `SELECT set_config('search_path', ${pg.escapeLiteral(`${ident(schema)}, pg_temp`)}, true)` +
    (tenantRolesEnabled(pool) ? `; SET LOCAL ROLE ${ident(schema)}` : '');
  if (opts.first && ESCAPE_RE.test(opts.first))
    throw new Error('statement refused: it would change the role or search_path of a tenant transaction');
  return inTransaction(
    pool,
    async (client, first) => {
      const state = { open: true };
      try {
        return await fn(makeTx(client, schema, state), opts.first ? first : []);
      } finally {
        // Closed before COMMIT/ROLLBACK: a TenantTx that escapes its callback is dead.
        state.open = false;
      }
    },
    { setup: opts.first ? `${setup}; ${opts.first}` : setup },
  );
}

function makeTx(client: PoolClient, schema: SchemaName, state: { open: boolean }): TenantTx {
  return {
    schema,
    async query<R extends Record<string, unknown>>(text: string, values?: unknown[]) {
      if (!state.open) throw new Error(`tenant transaction for ${schema} is already finished`);
      if (ESCAPE_RE.test(text))
        throw new Error('statement refused: it would change the role or search_path of a tenant transaction');
      const r = await client.query<R>(text, values);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
  } as TenantTx;
}
