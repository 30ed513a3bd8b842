/**
 * Verify a tenant's audit hash chain: walk the rows in id order, recompute every hash from the
 * stored fields and check each `prev_hash` links to the row before. Reports the first broken row.
 * Rows are read in pages, each in its own short read transaction (the table is append-only).
 *
 * @module
 */
import type { Pool } from '../db/pool.js';
import { withTenant } from '../db/with-tenant.js';
import type { AuditRow } from './entry.js';
import { chainHash } from './hash.js';
import type { AuditTenant } from './writer.js';

export interface VerifyResult {
  tenant: string;
  ok: boolean;
  /** Rows checked (up to and including the first broken one). */
  rows: number;
  /** Hash of the last row, hex: record it elsewhere to also detect removal of the newest rows. */
  headHash: string | null;
  broken?: { id: string; reason: string };
}

type DbRow = Omit<AuditRow, 'at'> & { id: string; at: Date; prev_hash: Buffer | null; hash: Buffer | null };

/**
 * @example
 * const r = await verifyAuditChain(pool, { id: 'acme', schema });
 * if (!r.ok) console.error(`row ${r.broken.id}: ${r.broken.reason}`);
 */
export async function verifyAuditChain(
  pool: Pool,
  tenant: AuditTenant,
  opts: { pageSize?: number } = {},
): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 1000;
  let prev: Buffer | null = null;
  let lastId = '0';
  let rows = 0;
  for (;;) {
    const page = await withTenant(pool, tenant.schema, (tx) =>
      tx.query<DbRow>(
        `SELECT id, at, request_id, subject, actor, provider, tool, scopes, outcome, error_code, vault_user, latency_ms, details, prev_hash, hash
           FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2`,
        [lastId, pageSize],
      ),
    );
    for (const r of page.rows) {
      rows++;
      const fail = (reason: string): VerifyResult => ({
        tenant: tenant.id,
        ok: false,
        rows,
        headHash: prev?.toString('hex') ?? null,
        broken: { id: r.id, reason },
      });
      if (!r.hash) return fail('the row has no hash');
      if (prev === null && r.prev_hash !== null)
        return fail('the first row links to an earlier row: rows before it were deleted');
      if (prev !== null && (r.prev_hash === null || !r.prev_hash.equals(prev))) {
        return fail(
          "prev_hash does not match the previous row's hash: a row was deleted, inserted or altered before this one",
        );
      }
      const { id: _id, prev_hash: _p, hash: _h, at, ...fields } = r;
      const expected = chainHash(prev, { ...fields, at: at.toISOString() });
      if (!expected.equals(r.hash)) return fail("the row's contents do not match its hash: the row was changed");
      prev = r.hash;
      lastId = r.id;
    }
    if (page.rows.length < pageSize)
      return { tenant: tenant.id, ok: true, rows, headHash: prev?.toString('hex') ?? null };
  }
}
