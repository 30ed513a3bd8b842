/**
 * Verify a tenant's audit chain: walk the rows in id order, recompute every hash from the stored
 * fields (keyed rows with the tenant key named by their key id, legacy rows with plain SHA-256) and
 * check each `prev_hash` links to the row before. Reports the first broken row.
 *
 * The cut-over: legacy (unkeyed, version 1) rows are accepted only BEFORE the first keyed row. An
 * unkeyed row after it is reported: it is what someone without the key produces when rewriting the
 * newest rows (or a server older than migration tenant/0120 during a rolling deploy; after checking
 * such rows, accept them with `unkeyedUntil`).
 *
 * With anchored heads (heads.ts) the chain must also still contain each head's row with its hash,
 * which detects removal of the newest rows.
 *
 * Rows are read in pages, each in its own short read transaction (the table is append-only).
 *
 * @module
 */
import type { Pool } from '../db/pool.js';
import { withTenant } from '../db/with-tenant.js';
import type { AuditRow } from './entry.js';
import { chainHash, chainMac, HASH_V1, HASH_V2 } from './hash.js';
import { checkHead, type ChainHead } from './heads.js';
import type { AuditKeys } from './keys.js';
import type { AuditTenant } from './writer.js';

export interface VerifyResult {
  tenant: string;
  ok: boolean;
  /** Rows checked (up to and including the first broken one). */
  rows: number;
  /** Hash of the last row, hex: export signed heads (`audit heads`) to also detect removal of the newest rows. */
  headHash: string | null;
  /** Id of the first keyed row (the cut-over), null when there is none yet. */
  keyedFrom: string | null;
  /** Legacy unkeyed rows checked (before the cut-over, or accepted with `unkeyedUntil`). */
  unkeyedRows: number;
  /** Anchored heads of this tenant that were checked. */
  headsChecked: number;
  broken?: { id: string; reason: string };
}

type DbRow = Omit<AuditRow, 'at'> & {
  id: string;
  at: Date;
  prev_hash: Buffer | null;
  hash: Buffer | null;
  hash_version: number;
  key_id: string | null;
};

/**
 * @example
 * const r = await verifyAuditChain(pool, { id: 'acme', schema }, { keys });
 * if (!r.ok) console.error(`row ${r.broken.id}: ${r.broken.reason}`);
 */
export async function verifyAuditChain(
  pool: Pool,
  tenant: AuditTenant,
  opts: { pageSize?: number; keys?: AuditKeys; heads?: ChainHead[]; unkeyedUntil?: string } = {},
): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 1000;
  const unkeyedUntil = BigInt(opts.unkeyedUntil ?? 0);
  const heads = (opts.heads ?? []).filter((h) => h.tenant === tenant.id && h.lastId !== null);
  let prev: Buffer | null = null;
  let lastId = '0';
  let rows = 0;
  let keyedFrom: string | null = null;
  let unkeyedRows = 0;
  const result = (extra: Partial<VerifyResult> = {}): VerifyResult => ({
    tenant: tenant.id,
    ok: !extra.broken,
    rows,
    headHash: prev?.toString('hex') ?? null,
    keyedFrom,
    unkeyedRows,
    headsChecked: heads.length,
    ...extra,
  });
  const headLabel = (h: ChainHead) => `the anchored head exported at ${h.exportedAt} (row ${h.lastId})`;

  if (heads.length && !opts.keys) throw new Error('anchored heads cannot be checked without SECRET_KEY');
  for (const h of heads) {
    const problem = checkHead(opts.keys!, h);
    if (problem) return result({ broken: { id: h.lastId!, reason: `${headLabel(h)} cannot be trusted: ${problem}` } });
  }
  const anchored = new Map(heads.map((h) => [h.lastId!, h]));

  for (;;) {
    const page = await withTenant(pool, tenant.schema, (tx) =>
      tx.query<DbRow>(
        `SELECT id, at, request_id, subject, actor, provider, tool, scopes, outcome, error_code, vault_user, latency_ms,
                details, prev_hash, hash, hash_version, key_id
           FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2`,
        [lastId, pageSize],
      ),
    );
    for (const r of page.rows) {
      rows++;
      const fail = (reason: string) => result({ broken: { id: r.id, reason } });
      if (!r.hash) return fail('the row has no hash');
      if (prev === null && r.prev_hash !== null)
        return fail('the first row links to an earlier row: rows before it were deleted');
      if (prev !== null && (r.prev_hash === null || !r.prev_hash.equals(prev))) {
        return fail(
          "prev_hash does not match the previous row's hash: a row was deleted, inserted or altered before this one",
        );
      }
      const { id: _id, prev_hash: _p, hash: _h, hash_version: version, key_id: keyId, at, ...fields } = r;
      const row: AuditRow = { ...fields, at: at.toISOString() };
      let expected: Buffer;
      if (version === HASH_V2) {
        if (!opts.keys) throw new Error('the chain has keyed rows, which cannot be verified without SECRET_KEY');
        const key = keyId ? opts.keys.byId(tenant.id, keyId) : undefined;
        if (!key)
          return fail(
            `the row is keyed with key id ${String(keyId)}, which neither SECRET_KEY nor SECRET_KEY_PREVIOUS gives: set the SECRET_KEY it was written with in SECRET_KEY_PREVIOUS`,
          );
        expected = chainMac(key.key, prev, row);
        keyedFrom ??= r.id;
      } else if (version === HASH_V1) {
        if (keyedFrom !== null && BigInt(r.id) > unkeyedUntil)
          return fail(
            `the row is unkeyed (hash_version 1) although keyed rows began at row ${keyedFrom}: rows were rewritten without the key (or written by a server older than this version; check them, then accept with --unkeyed-until)`,
          );
        expected = chainHash(prev, row);
        unkeyedRows++;
      } else {
        return fail(`the row has an unknown hash_version ${String(version)}`);
      }
      if (!expected.equals(r.hash))
        return fail(
          version === HASH_V2
            ? "the row's contents do not match its keyed hash (HMAC): the row was changed, or rehashed without the key"
            : "the row's contents do not match its hash: the row was changed",
        );
      const head = anchored.get(r.id);
      if (head && head.lastHash !== r.hash.toString('hex'))
        return fail(`the row's hash differs from ${headLabel(head)}: the chain was rewritten from here on`);
      anchored.delete(r.id);
      prev = r.hash;
      lastId = r.id;
    }
    if (page.rows.length < pageSize) break;
  }
  // Heads naming rows the walk never met: the newest rows were removed (or ids skipped by a rewrite).
  const missing = [...anchored.values()].sort((a, b) => (BigInt(a.lastId!) < BigInt(b.lastId!) ? -1 : 1))[0];
  if (missing)
    return result({
      broken: {
        id: missing.lastId!,
        reason: `${headLabel(missing)} is not in the chain, which ends at row ${lastId === '0' ? '(none)' : lastId}: rows were removed`,
      },
    });
  return result();
}
