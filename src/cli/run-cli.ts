/**
 * Shared shell of the admin CLIs: config from the environment (through loadConfig only), the same
 * database as the server (embedded when DATABASE_URL is unset: the running one when a server or
 * `npm run dev` already runs it, else started for the command), and exit codes: 0 ok, 1 failed,
 * 64 usage, 78 configuration.
 *
 * @module
 */
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type Database } from '../db/open-database.js';
import type { Pool } from '../db/pool.js';
import { ConfigError, isAppError } from '../errors/index.js';

/** A bad command line: printed with the usage text, exit 64. */
export class UsageError extends Error {}

/**
 * @example
 * await runCli('migrate', USAGE, async ({ pool }) => { …; return 0; });
 */
export async function runCli(
  name: string,
  usage: string,
  fn: (deps: { pool: Pool; db: Database; config: Readonly<Config>; out: (line: string) => void }) => Promise<number>,
): Promise<never> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let code: number;
  try {
    const config = loadConfig(process.env);
    // While `npm run dev` (or `npm start`) runs the embedded Postgres, use it rather than start a second one.
    const db = await openDatabase(config, { applicationName: `vault-mcp ${name}`, attach: true });
    try {
      code = await fn({ pool: db.pool, db, config, out });
    } finally {
      await db.close();
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${name}: ${e.message}\n\n${usage}\n`);
      code = 64;
    } else if (e instanceof ConfigError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      code = 78;
    } else {
      process.stderr.write(`${name}: ${isAppError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
      code = 1;
    }
  }
  process.exit(code);
}
