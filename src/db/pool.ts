/**
 * The shared `pg` pool. Connections are recycled (`maxLifetimeSeconds`) so per-backend catalog caches
 * do not grow without bound across thousands of tenant schemas.
 *
 * @module
 */
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// Whether `withTenant` switches to the tenant's own role is a property of the database (did we get
// CREATEROLE?), so it travels with the pool instead of with every caller.
const tenantRoles = new WeakMap<Pool, boolean>();

/**
 * Whether tenant transactions on `pool` run as the per-tenant role. Unknown pools say yes: failing
 * closed (SET ROLE to a missing role errors) beats silently dropping a layer of isolation.
 *
 * @example
 * if (tenantRolesEnabled(pool)) await client.query(`SET LOCAL ROLE ${ident(schema)}`);
 */
export function tenantRolesEnabled(pool: Pool): boolean {
  return tenantRoles.get(pool) ?? true;
}

/**
 * Create the pool. Errors on idle clients are logged, never fatal (a Postgres restart must not kill
 * the process; the next checkout reconnects).
 *
 * @example
 * const pool = createPool({ url, max: 10, statementTimeoutMs: 15000, onError: (e) => log.warn(e) });
 */
export function createPool(opts: {
  url: string;
  max: number;
  statementTimeoutMs: number;
  applicationName?: string;
  /** Run tenant transactions as the tenant's own role (DB_TENANT_ROLES); default true. */
  tenantRoles?: boolean;
  onError?: (e: Error) => void;
}): Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max,
    maxLifetimeSeconds: 600,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    statement_timeout: opts.statementTimeoutMs,
    application_name: opts.applicationName ?? 'vault-mcp',
  });
  pool.on('error', (e) => opts.onError?.(e));
  tenantRoles.set(pool, opts.tenantRoles ?? true);
  // pg-pool listens for errors only on idle clients: a backend killed while a client is checked out
  // between two queries (Postgres restart, failover, pg_terminate_backend) would emit an unhandled
  // 'error' and crash the process. Swallow it here; the client's next query fails and the caller
  // (withTenant) discards the connection.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
