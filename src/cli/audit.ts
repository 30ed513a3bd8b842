/**
 * `npm run audit -- <verify|heads> …`: the audit chain tools.
 *
 * - `verify [--tenant <id>] [--heads <file>] [--unkeyed-until <row id>] [--json]`: recompute every
 *   tenant's chain (or one tenant's) and report the first broken row; with `--heads`, also require the
 *   chain to contain every anchored head of the file (detects removal of the newest rows). Exit 0 when
 *   every chain is intact, 1 when one is broken or a tenant could not be checked.
 * - `heads [--tenant <id>]`: print each tenant's signed chain head as one JSON line, to append to a
 *   store the database administrators cannot write.
 *
 * Exit 64 on usage errors, 78 on configuration errors. Uses the server's configuration (DATABASE_URL
 * and SECRET_KEY, SECRET_KEY_PREVIOUS; or the embedded Postgres under DATA_DIR when DATABASE_URL is
 * unset: stop a running `npm start` first, since they would share the data directory).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createAuditKeys, exportHeads, parseHeads, verifyAuditChain, type VerifyResult } from '../audit/index.js';
import type { ChainHead } from '../audit/heads.js';
import { parseSchemaName } from '../db/schema-name.js';
import { stableSecretKey } from '../db/secret-key.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE = `usage:
  npm run audit -- verify [--tenant <id>] [--heads <file>] [--unkeyed-until <row id>] [--json]
  npm run audit -- heads [--tenant <id>]        (JSON lines: append them to an external, write-once store)`;

await runCli('audit', USAGE, async ({ pool, db, config, out }) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        json: { type: 'boolean' },
        heads: { type: 'string' },
        'unkeyed-until': { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  const command = parsed.positionals[0];
  if (parsed.positionals.length !== 1 || (command !== 'verify' && command !== 'heads'))
    throw new UsageError('expected one command: verify or heads');
  if (v['unkeyed-until'] !== undefined && !/^\d{1,18}$/.test(v['unkeyed-until']))
    throw new UsageError('--unkeyed-until must be a row id');
  if (command === 'heads' && (v.heads || v['unkeyed-until'] || v.json))
    throw new UsageError('heads takes only --tenant');

  const secretKey = await stableSecretKey(config, db.embedded);
  const keys = secretKey ? createAuditKeys(secretKey, config.auditTrail.previousSecretKeys) : undefined;
  const { rows } = await pool.query<{ id: string; schema_name: string }>(
    'SELECT id, schema_name FROM control.tenants WHERE $1::text IS NULL OR id = $1 ORDER BY id',
    [v.tenant ?? null],
  );
  if (v.tenant && !rows.length) throw new Error(`no tenant with id '${v.tenant}'`);
  const tenants = rows.map((t) => ({ id: t.id, schema: parseSchemaName(t.schema_name) }));

  if (command === 'heads') {
    if (!keys) throw new Error('SECRET_KEY is not set: heads are signed with a key derived from it');
    for (const h of await exportHeads(pool, tenants, keys)) out(JSON.stringify(h));
    return 0;
  }

  let heads: ChainHead[] = [];
  if (v.heads) {
    heads = parseHeads(await readFile(v.heads, 'utf8'));
    const known = new Set(tenants.map((t) => t.id));
    const unknown = [...new Set(heads.map((h) => h.tenant))].filter((t) => !known.has(t) && !v.tenant);
    if (unknown.length) throw new Error(`the head file names tenants that do not exist: ${unknown.join(', ')}`);
  }
  const results: (VerifyResult | { tenant: string; ok: false; error: string })[] = [];
  for (const t of tenants) {
    try {
      results.push(await verifyAuditChain(pool, t, { keys, heads, unkeyedUntil: v['unkeyed-until'] }));
    } catch (e) {
      results.push({ tenant: t.id, ok: false, error: (e as Error).message });
    }
  }
  if (v.json) {
    out(JSON.stringify({ ok: results.every((r) => r.ok), tenants: results }, null, 2));
  } else {
    for (const r of results) {
      if ('error' in r) out(`${r.tenant}: ERROR could not be checked: ${r.error}`);
      else if (r.ok) {
        const keyed =
          r.keyedFrom === null
            ? 'no keyed rows yet'
            : `keyed from row ${r.keyedFrom}${r.unkeyedRows ? `, ${r.unkeyedRows} legacy unkeyed rows` : ''}`;
        const anchored = r.headsChecked ? `, ${r.headsChecked} anchored head(s) found` : '';
        out(`${r.tenant}: OK ${r.rows} rows (${keyed}${anchored}), head ${r.headHash ?? '(empty)'}`);
      } else out(`${r.tenant}: BROKEN at row id ${r.broken!.id}: ${r.broken!.reason}`);
    }
    if (!results.length) out('no tenants');
  }
  return results.every((r) => r.ok) ? 0 : 1;
});
