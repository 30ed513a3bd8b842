/**
 * `npm run audit -- verify [--tenant <id>] [--json]`: recompute every tenant's audit hash chain (or
 * one tenant's) and report the first broken row. Exit 0 when every chain is intact, 1 when one is
 * broken or a tenant could not be checked, 64 on usage errors, 78 on configuration errors.
 *
 * Uses the server's configuration (DATABASE_URL, or the embedded Postgres under DATA_DIR when unset;
 * stop a running `npm start` first in that case, since they would share the data directory).
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { verifyAuditChain, type VerifyResult } from '../audit/index.js';
import { parseSchemaName } from '../db/schema-name.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE = 'usage: npm run audit -- verify [--tenant <id>] [--json]';

await runCli('audit', USAGE, async ({ pool, out }) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { tenant: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'verify')
    throw new UsageError('expected the command: verify');
  const { rows } = await pool.query<{ id: string; schema_name: string }>(
    'SELECT id, schema_name FROM control.tenants WHERE $1::text IS NULL OR id = $1 ORDER BY id',
    [parsed.values.tenant ?? null],
  );
  if (parsed.values.tenant && !rows.length) {
    throw new Error(`no tenant with id '${parsed.values.tenant}'`);
  }
  const results: (VerifyResult | { tenant: string; ok: false; error: string })[] = [];
  for (const t of rows) {
    try {
      results.push(await verifyAuditChain(pool, { id: t.id, schema: parseSchemaName(t.schema_name) }));
    } catch (e) {
      results.push({ tenant: t.id, ok: false, error: (e as Error).message });
    }
  }
  if (parsed.values.json) {
    out(JSON.stringify({ ok: results.every((r) => r.ok), tenants: results }, null, 2));
  } else {
    for (const r of results) {
      if ('error' in r) out(`${r.tenant}: ERROR could not be checked: ${r.error}`);
      else if (r.ok) out(`${r.tenant}: OK ${r.rows} rows, head ${r.headHash ?? '(empty)'}`);
      else out(`${r.tenant}: BROKEN at row id ${r.broken!.id}: ${r.broken!.reason}`);
    }
    if (!results.length) out('no tenants');
  }
  return results.every((r) => r.ok) ? 0 : 1;
});
