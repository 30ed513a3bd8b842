/**
 * Signed chain heads, for anchoring outside the database. A chain only proves that nothing was changed
 * or removed *before* its last row; removing the newest rows leaves a valid, shorter chain. A head
 * `{ tenant, lastId, lastHash, exportedAt, keyId, mac }` stored where the database administrators
 * cannot write (a WORM bucket, a ticket, a transparency log) closes that gap: `audit verify --heads`
 * then requires the chain to still contain that row with that hash. The MAC (HMAC-SHA256 under a
 * per-tenant key derived from SECRET_KEY) proves the head was exported by someone holding the key,
 * so a head file cannot be forged or edited by the database owner either.
 *
 * One JSON object per line (JSON Lines), so a scheduled job can append to one file.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import { withTenant } from '../db/with-tenant.js';
import { canonicalJson } from './hash.js';
import type { AuditKeys } from './keys.js';
import type { AuditTenant } from './writer.js';

export interface ChainHead {
  tenant: string;
  /** Id of the newest row when exported (null: the chain was empty). */
  lastId: string | null;
  /** Its hash, hex. */
  lastHash: string | null;
  exportedAt: string;
  /** Which tenant key made the MAC. */
  keyId: string;
  /** HMAC-SHA256 of the other fields (canonical JSON), hex. */
  mac: string;
}

function macOf(headKey: Buffer, head: Omit<ChainHead, 'mac'>): string {
  const { tenant, lastId, lastHash, exportedAt, keyId } = head;
  return createHmac('sha256', headKey)
    .update(canonicalJson({ tenant, lastId, lastHash, exportedAt, keyId }))
    .digest('hex');
}

/**
 * Read each tenant's newest row and sign it.
 *
 * @example
 * for (const h of await exportHeads(pool, tenants, keys)) console.log(JSON.stringify(h));
 */
export async function exportHeads(
  pool: Pool,
  tenants: AuditTenant[],
  keys: AuditKeys,
  now: () => Date = () => new Date(),
): Promise<ChainHead[]> {
  const out: ChainHead[] = [];
  for (const t of tenants) {
    const { rows } = await withTenant(pool, t.schema, (tx) =>
      tx.query<{ id: string; hash: Buffer | null }>('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1'),
    );
    const key = keys.current(t.id);
    const head = {
      tenant: t.id,
      lastId: rows[0]?.id ?? null,
      lastHash: rows[0]?.hash?.toString('hex') ?? null,
      exportedAt: now().toISOString(),
      keyId: key.keyId,
    };
    out.push({ ...head, mac: macOf(key.headKey, head) });
  }
  return out;
}

/**
 * Why `head` cannot be trusted, or undefined when its MAC checks out.
 *
 * @example
 * const problem = checkHead(keys, head);
 */
export function checkHead(keys: AuditKeys, head: ChainHead): string | undefined {
  const key = keys.byId(head.tenant, head.keyId);
  if (!key)
    return `it was signed with key id ${head.keyId}, which neither SECRET_KEY nor SECRET_KEY_PREVIOUS gives for tenant "${head.tenant}"`;
  const expected = Buffer.from(macOf(key.headKey, head), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(head.mac) ? head.mac : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'its MAC does not match: the head was edited, or made for another tenant';
  return undefined;
}

/**
 * Parse a head file (JSON Lines; blank lines ignored). Throws naming the first bad line.
 *
 * @example
 * const heads = parseHeads(await readFile('heads.jsonl', 'utf8'));
 */
export function parseHeads(text: string): ChainHead[] {
  const heads: ChainHead[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let h: Partial<ChainHead>;
    try {
      h = JSON.parse(line) as Partial<ChainHead>;
    } catch (e) {
      throw new Error(`head file line ${i + 1} is not JSON (${(e as Error).message})`, { cause: e });
    }
    const idOk = h.lastId === null || (typeof h.lastId === 'string' && /^\d+$/.test(h.lastId));
    const hashOk = h.lastHash === null || (typeof h.lastHash === 'string' && /^[0-9a-f]{64}$/.test(h.lastHash));
    if (
      typeof h.tenant !== 'string' ||
      !idOk ||
      !hashOk ||
      (h.lastId === null) !== (h.lastHash === null) ||
      typeof h.exportedAt !== 'string' ||
      typeof h.keyId !== 'string' ||
      typeof h.mac !== 'string'
    )
      throw new Error(`head file line ${i + 1} is not a chain head (tenant, lastId, lastHash, exportedAt, keyId, mac)`);
    heads.push(h as ChainHead);
  });
  return heads;
}
