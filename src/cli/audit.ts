/**
 * `npm run audit -- verify [--tenant <id>] [--json]`: recompute every tenant's audit hash chain (or
 * one tenant's) and report the first broken row. Exit 0 when every chain is intact, 1 when one is
 * broken or a tenant could not be checked, 2 on usage errors, 78 on configuration errors.
 *
 * Uses the server's configuration (DATABASE_URL, or the embedded Postgres under DATA_DIR when unset;
 * stop a running `npm start` first in that case, since they would share the data directory).
 *
 * @module
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { verifyAuditChain, type VerifyResult } from '../audit/index.js';
import { loadConfig } from '../config/index.js';
import { startEmbeddedPostgres, type EmbeddedDb } from '../db/embedded.js';
import { createPool } from '../db/pool.js';
import { parseSchemaName } from '../db/schema-name.js';
import { ConfigError } from '../errors/index.js';

const USAGE = 'usage: npm run audit -- verify [--tenant <id>] [--json]';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { tenant: { type: 'string' }, json: { type: 'boolean' } } });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'verify') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`audit: ${e.message}\n`);
    return 78;
  }
  let embedded: EmbeddedDb | undefined;
  let url = config.db.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dir: path.join(config.db.dataDir, 'pg'), port: config.db.embeddedPort });
    url = embedded.url;
  }
  const pool = createPool({ url, max: 2, statementTimeoutMs: config.db.statementTimeoutMs, applicationName: 'vault-mcp-audit' });
  try {
    const { rows } = await pool.query<{ id: string; schema_name: string }>(
      'SELECT id, schema_name FROM control.tenants WHERE $1::text IS NULL OR id = $1 ORDER BY id',
      [parsed.values.tenant ?? null],
    );
    if (parsed.values.tenant && !rows.length) {
      process.stderr.write(`audit: no tenant with id '${parsed.values.tenant}'\n`);
      return 1;
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
      process.stdout.write(`${JSON.stringify({ ok: results.every((r) => r.ok), tenants: results }, null, 2)}\n`);
    } else {
      for (const r of results) {
        if ('error' in r) process.stdout.write(`${r.tenant}: ERROR could not be checked: ${r.error}\n`);
        else if (r.ok) process.stdout.write(`${r.tenant}: OK ${r.rows} rows, head ${r.headHash ?? '(empty)'}\n`);
        else process.stdout.write(`${r.tenant}: BROKEN at row id ${r.broken!.id}: ${r.broken!.reason}\n`);
      }
      if (!results.length) process.stdout.write('no tenants\n');
    }
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`audit: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
