/**
 * The keyed audit chain (issue #12): whoever can edit the rows (the database owner, the trigger
 * disabled) cannot recompute a chain that verifies without SECRET_KEY; legacy unkeyed rows verify up
 * to the cut-over only; key rotation; signed heads detect removal of the newest rows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toRow, type AuditEntry, type AuditRow } from '../../src/audit/entry.js';
import { chainHash, chainMac } from '../../src/audit/hash.js';
import { exportHeads, parseHeads, type ChainHead } from '../../src/audit/heads.js';
import { createAuditKeys, type AuditKeys } from '../../src/audit/keys.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { createAuditWriter } from '../../src/audit/writer.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateSchemaName } from '../../src/db/schema-name.js';
import { createLogger } from '../../src/log/index.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { createTenantFixture } from '../helpers/tenant-fixture.js';

const log = createLogger({ level: 'silent' });
const SECRET = 'k'.repeat(40);
const OLD_SECRET = 'o'.repeat(40);

function entry(requestId: string): AuditEntry {
  return {
    requestId,
    subject: 'oidc:https://idp.example.com|alice',
    actor: undefined,
    provider: 'oidc',
    tool: 'documents_update',
    scopes: ['vault:write'],
    outcome: 'ok',
    errorCode: undefined,
    vaultUser: 'alice@acme.com',
    latencyMs: 5,
    details: { args: { id: requestId } },
  };
}

interface StoredRow extends AuditRow {
  id: string;
}

describe('keyed audit chain', () => {
  let db: TestDb;
  let pool: Pool;
  let keys: AuditKeys;
  let seq = 0;
  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ url: db.url, max: 6, statementTimeoutMs: 10_000 });
    keys = createAuditKeys(SECRET);
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** `k: null` writes unkeyed rows, as a server older than migration 0120 did. */
  async function write(t: Tenant, n: number, k: AuditKeys | null = keys): Promise<string[]> {
    const audit = createAuditWriter({ pool, log, keys: k ?? undefined });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(`r-${seq++}`);
    for (const id of ids) await audit.record(t, entry(id)); // one by one: one row per batch
    await audit.close();
    return ids;
  }

  async function rows(t: Tenant): Promise<StoredRow[]> {
    const { rows: r } = await pool.query<Omit<StoredRow, 'at'> & { at: Date }>(
      `SELECT id, at, request_id, subject, actor, provider, tool, scopes, outcome, error_code, vault_user, latency_ms, details
         FROM ${t.schema}.audit_log ORDER BY id`,
    );
    return r.map((x) => ({ ...x, at: x.at.toISOString() }));
  }

  /** As the owner with the append-only trigger off: run `sql`. */
  async function asOwner(sql: string, values: unknown[] = []): Promise<void> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query("SET LOCAL session_replication_role = 'replica'");
      await c.query(sql, values);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  }

  /**
   * The attack of the issue: change row `from`, then recompute every hash from there on, as the owner
   * can. `mode` is how the attacker hashes (without SECRET_KEY: plain SHA-256 as v1, or an HMAC under
   * a key of their own passed off as the real key id; with it: the real key).
   */
  async function tamperAndRehash(
    t: Tenant,
    from: number,
    mode: 'v1' | 'guessed-key' | 'real-key',
    until?: number,
  ): Promise<void> {
    const all = await rows(t);
    const { rows: meta } = await pool.query<{ hash: Buffer; key_id: string | null }>(
      `SELECT hash, key_id FROM ${t.schema}.audit_log ORDER BY id`,
    );
    let prev: Buffer | null = from === 0 ? null : meta[from - 1]!.hash;
    const guessed = randomBytes(32);
    for (let i = from; i < (until ?? all.length); i++) {
      const { id, ...row } = all[i]!;
      if (i === from) row.outcome = 'denied';
      const keyId = meta[i]!.key_id ?? keys.current(t.id).keyId;
      const hash =
        mode === 'v1'
          ? chainHash(prev, row)
          : chainMac(mode === 'real-key' ? keys.current(t.id).key : guessed, prev, row);
      await asOwner(
        `UPDATE ${t.schema}.audit_log SET outcome = $2, prev_hash = $3, hash = $4, hash_version = $5, key_id = $6 WHERE id = $1`,
        [id, row.outcome, prev, hash, mode === 'v1' ? 1 : 2, mode === 'v1' ? null : keyId],
      );
      prev = hash;
    }
  }

  it('tamper + rehash WITHOUT the key is detected at the first changed row; with the key it would pass', async () => {
    for (const mode of ['guessed-key', 'v1'] as const) {
      const t = await createTenantFixture(pool, `tamper-${mode}`);
      await write(t, 8);
      const ids = (await rows(t)).map((r) => r.id);
      assert.equal((await verifyAuditChain(pool, t, { keys })).ok, true);
      await tamperAndRehash(t, 3, mode);
      const v = await verifyAuditChain(pool, t, { keys });
      assert.equal(v.ok, false, mode);
      assert.equal(v.broken!.id, ids[3], `${mode}: names the first rewritten row`);
      assert.match(
        v.broken!.reason,
        mode === 'v1'
          ? new RegExp(`unkeyed \\(hash_version 1\\) although keyed rows began at row ${ids[0]}`)
          : /do not match its keyed hash \(HMAC\): the row was changed, or rehashed without the key/,
      );
    }
    // The same rewrite made WITH the key verifies: the key, not the database, is what protects the chain.
    const t = await createTenantFixture(pool, 'tamper-real-key');
    await write(t, 8);
    await tamperAndRehash(t, 3, 'real-key');
    assert.equal((await verifyAuditChain(pool, t, { keys })).ok, true);
    // A verifier holding another SECRET_KEY cannot vouch for any keyed row.
    const other = await verifyAuditChain(pool, t, { keys: createAuditKeys('z'.repeat(40)) });
    assert.match(other.broken!.reason, /key id [0-9a-f]{16}, which neither SECRET_KEY nor SECRET_KEY_PREVIOUS/);
    await assert.rejects(verifyAuditChain(pool, t), /cannot be verified without SECRET_KEY/);
  });

  it('each tenant has its own key: a keyed row copied from another tenant does not verify', async () => {
    const a = await createTenantFixture(pool, 'key-a');
    const b = await createTenantFixture(pool, 'key-b');
    assert.notEqual(keys.current('key-a').keyId, keys.current('key-b').keyId);
    assert.ok(!keys.current('key-a').key.equals(keys.current('key-b').key));
    await write(a, 1);
    await write(b, 1);
    // b's only row replaced by a's (fields, hash, key id): the chain of b no longer verifies.
    const [ra] = (await pool.query<{ hash: Buffer; key_id: string }>(`SELECT hash, key_id FROM ${a.schema}.audit_log`))
      .rows;
    const [src] = await rows(a);
    await asOwner(`UPDATE ${b.schema}.audit_log SET request_id = $1, at = $2, hash = $3, key_id = $4`, [
      src!.request_id,
      src!.at,
      ra!.hash,
      ra!.key_id,
    ]);
    const v = await verifyAuditChain(pool, b, { keys });
    assert.equal(v.ok, false);
  });

  it('migration path: legacy unkeyed rows verify up to the cut-over; after it an unkeyed row is refused unless accepted by id', async () => {
    const t = await createTenantFixture(pool, 'cutover');
    await write(t, 4, null); // a server before migration 0120: unkeyed rows
    await write(t, 3); // upgraded: keyed rows from here on
    const all = (await rows(t)).map((r) => r.id);
    let v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.keyedFrom, all[4]);
    assert.equal(v.unkeyedRows, 4);

    // An old replica still running during a rolling deploy writes one more unkeyed row.
    await write(t, 1, null);
    const late = (await rows(t)).at(-1)!.id;
    v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.broken?.id, late);
    assert.match(v.broken.reason, /unkeyed .* keyed rows began at row/);
    assert.equal((await verifyAuditChain(pool, t, { keys, unkeyedUntil: late })).ok, true);
    await write(t, 1); // keyed again after it

    // Rewriting the legacy part (allowed to be unkeyed) still breaks at the first keyed row after it:
    // its HMAC covers prev_hash, so the link cannot be repaired without the key.
    const [head] = await exportHeads(pool, [t], keys);
    await tamperAndRehash(t, 1, 'v1', 4);
    v = await verifyAuditChain(pool, t, { keys, unkeyedUntil: late });
    assert.equal(v.ok, false);
    assert.equal(v.broken!.id, all[4]);
    assert.match(v.broken!.reason, /prev_hash does not match/);

    // The documented limit: rewriting EVERY row as unkeyed (a full downgrade) leaves no keyed row to
    // contradict it, so only an anchored head exported before the rewrite detects it.
    await tamperAndRehash(t, 1, 'v1');
    v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.ok, true);
    assert.equal(v.keyedFrom, null);
    v = await verifyAuditChain(pool, t, { keys, heads: [head!] });
    assert.equal(v.ok, false);
    assert.match(v.broken!.reason, /differs from the anchored head/);
  });

  it('upgrade of a real pre-0120 database: old rows stay verifiable, new rows are keyed', async () => {
    const m = await loadMigrations();
    const before0120 = { control: m.control, tenant: m.tenant.filter((f) => f.name < '0120') };
    const schema = generateSchemaName();
    await migrate(pool, { migrations: before0120 });
    await pool.query("INSERT INTO control.tenants (id, schema_name) VALUES ('upgraded', $1)", [schema]);
    await migrate(pool, { migrations: before0120 });
    // Rows as the previous version wrote them: no hash_version column yet, plain SHA-256 chain.
    let prev: Buffer | null = null;
    for (let i = 0; i < 3; i++) {
      const row = toRow({ ...entry(`old-${i}`), at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) });
      const hash = chainHash(prev, row);
      await pool.query(
        `INSERT INTO ${schema}.audit_log (at, request_id, subject, actor, provider, tool, scopes, outcome, error_code,
                                          vault_user, latency_ms, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          row.at,
          row.request_id,
          row.subject,
          row.actor,
          row.provider,
          row.tool,
          row.scopes,
          row.outcome,
          row.error_code,
          row.vault_user,
          row.latency_ms,
          JSON.stringify(row.details),
          prev,
          hash,
        ],
      );
      prev = hash;
    }
    const report = await migrate(pool); // the upgrade: applies tenant/0120 to the existing rows
    assert.ok(
      report.tenants.some((t) => t.schema === schema && t.applied.includes('0120_audit_keyed_chain.sql')),
      JSON.stringify(report),
    );
    const t = { id: 'upgraded', schema } as Tenant;
    await write(t, 2);
    const v = await verifyAuditChain(pool, t, { keys });
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.unkeyedRows, 3);
    assert.equal(v.keyedFrom, '4');
    const { rows: versions } = await pool.query<{ hash_version: number }>(
      `SELECT hash_version FROM ${schema}.audit_log ORDER BY id`,
    );
    assert.deepEqual(
      versions.map((r) => r.hash_version),
      [1, 1, 1, 2, 2],
    );
  });

  it('key rotation: rows written under the previous SECRET_KEY verify with SECRET_KEY_PREVIOUS', async () => {
    const t = await createTenantFixture(pool, 'rotation');
    const old = createAuditKeys(OLD_SECRET);
    await write(t, 3, old);
    const rotated = createAuditKeys(SECRET, [OLD_SECRET]);
    await write(t, 3, rotated);
    const v = await verifyAuditChain(pool, t, { keys: rotated });
    assert.equal(v.ok, true, JSON.stringify(v));
    const { rows: ids } = await pool.query<{ key_id: string }>(
      `SELECT DISTINCT key_id FROM ${t.schema}.audit_log ORDER BY key_id`,
    );
    assert.equal(ids.length, 2, 'two key ids in one chain');
    const without = await verifyAuditChain(pool, t, { keys: createAuditKeys(SECRET) });
    assert.equal(without.ok, false);
    assert.match(without.broken!.reason, /set the SECRET_KEY it was written with in SECRET_KEY_PREVIOUS/);
  });

  it('signed heads: export, round-trip, detect removal of the newest rows and edited heads', async () => {
    const t = await createTenantFixture(pool, 'heads');
    await write(t, 5);
    const [head] = await exportHeads(pool, [t], keys);
    const all = (await rows(t)).map((r) => r.id);
    assert.equal(head!.tenant, 'heads');
    assert.equal(head!.lastId, all[4]);
    assert.match(head!.mac, /^[0-9a-f]{64}$/);
    const text = `${JSON.stringify(head)}\n`;
    const heads = parseHeads(text);
    assert.deepEqual(heads, [head]);
    await write(t, 2); // the chain grows past the head: still fine
    let v = await verifyAuditChain(pool, t, { keys, heads });
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.headsChecked, 1);

    // Remove the 3 newest rows (the anchored one included): the shorter chain is valid on its own …
    await asOwner(`DELETE FROM ${t.schema}.audit_log WHERE id >= $1`, [all[4]]);
    assert.equal((await verifyAuditChain(pool, t, { keys })).ok, true);
    // … but not against the head.
    v = await verifyAuditChain(pool, t, { keys, heads });
    assert.equal(v.ok, false);
    assert.equal(v.broken!.id, all[4]);
    assert.match(v.broken!.reason, new RegExp(`is not in the chain, which ends at row ${all[3]}: rows were removed`));

    const edited: ChainHead[] = [
      { ...head!, lastId: all[2]! },
      { ...head!, tenant: 'cutover' },
      { ...head!, mac: head!.mac.replace(/^./, (c) => (c === '0' ? '1' : '0')) },
    ];
    for (const h of edited) {
      const r = await verifyAuditChain(pool, { ...t, id: h.tenant }, { keys, heads: [h] });
      assert.equal(r.ok, false, JSON.stringify(h));
      assert.match(r.broken!.reason, /cannot be trusted: (its MAC does not match|it was signed with key id)/);
    }
    assert.throws(() => parseHeads('{"tenant":"x"}\n'), /line 1 is not a chain head/);
  });

  it('CLI: `audit heads` prints signed JSON lines that `audit verify --heads` checks (exit 0, then 1)', async () => {
    const t = await createTenantFixture(pool, 'cli-heads');
    await write(t, 3);
    const env = { ...process.env, DATABASE_URL: db.url, NODE_ENV: 'test', SECRET_KEY: SECRET, LOG_LEVEL: 'silent' };
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', ...args], { env, encoding: 'utf8' });
    const exported = cli(['heads', '--tenant', 'cli-heads']);
    assert.equal(exported.status, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const dir = await mkdtemp(path.join(tmpdir(), 'vmcp-heads-'));
    const file = path.join(dir, 'heads.jsonl');
    try {
      await writeFile(file, exported.stdout);
      const ok = cli(['verify', '--tenant', 'cli-heads', '--heads', file]);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /cli-heads: OK 3 rows \(keyed from row \d+, 1 anchored head\(s\) found\)/);
      await asOwner(`DELETE FROM ${t.schema}.audit_log WHERE id = (SELECT max(id) FROM ${t.schema}.audit_log)`);
      const bad = cli(['verify', '--tenant', 'cli-heads', '--heads', file]);
      assert.equal(bad.status, 1);
      assert.match(bad.stdout, /BROKEN at row id \d+: the anchored head exported at .* is not in the chain/);
      assert.equal(cli(['heads', '--json']).status, 64);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
