/**
 * A plain transaction on one checked-out client, for control-schema work (provisioning, admin). Tenant
 * data goes through `withTenant` instead.
 *
 * @module
 */
import type { Pool, PoolClient } from './pool.js';

/**
 * Run `fn` in a transaction on one checked-out client (control-schema work only).
 *
 * @example
 * await inTransaction(pool, (c) => c.query('…'));
 */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  opts: {
    /**
     * Statements sent with BEGIN in the same round trip (simple-query protocol: constant SQL only,
     * never user input), e.g. the tenant's `SET LOCAL` lines.
     */
    setup?: string;
  } = {},
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(opts.setup ? `BEGIN; ${opts.setup}` : 'BEGIN');
    const r = await fn(client);
    await client.query('COMMIT');
    return r;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw e;
  } finally {
    client.release(broken);
  }
}
