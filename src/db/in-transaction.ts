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
  /** `first`: the rows of the last `setup` statement (none without setup). */
  fn: (client: PoolClient, first: Record<string, unknown>[]) => Promise<T>,
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
    const began = await client.query(opts.setup ? `BEGIN; ${opts.setup}` : 'BEGIN');
    // A multi-statement simple query answers one result per statement.
    const results: { rows: Record<string, unknown>[] }[] = Array.isArray(began) ? began : [began];
    const r = await fn(client, results[results.length - 1]!.rows);
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
