/**
 * `npm test`: runs every `test/**\/*.test.ts` with node's test runner (through tsx). Uses DATABASE_URL
 * when set (CI points it at the machine's Postgres); otherwise starts an embedded Postgres under
 * `.data/test-pg` for the run. Each test file creates and drops its own database, so runs in parallel
 * (and in several checkouts at once) do not interfere.
 *
 * `TEST_PG_PORT` (5434) moves the embedded Postgres; as root it runs as the `postgres` OS user, and when
 * that user cannot reach `.data` (a checkout in a 0700 home) its data lives elsewhere (printed).
 *
 * Usage: npm test [-- <path filters…>]
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDb } from '../src/db/embedded.js';
import { loadDevConfig } from '../src/dev/config.js';

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? find(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .filter((f) => !filters.length || filters.some((x) => f.includes(x)))
  .sort();
if (!files.length) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

let embedded: EmbeddedDb | undefined;
let url = process.env.DATABASE_URL;
if (!url) {
  try {
    const port = loadDevConfig(process.env).TEST_PG_PORT;
    console.log(`DATABASE_URL is not set: starting an embedded Postgres on 127.0.0.1:${port}`);
    embedded = await startEmbeddedPostgres({
      dir: '.data/test-pg',
      port,
      database: 'postgres',
      portVariable: 'TEST_PG_PORT',
    });
  } catch (e) {
    // A taken port or a bad setting: one line, no stack trace.
    console.error(`npm test: ${(e as Error).message}`);
    process.exit(1);
  }
  if (embedded.relocated) console.log(`  its data is in ${embedded.dataDir} (${embedded.relocated})`);
  url = embedded.url;
}

const code = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 4}`,
      '--test-reporter=spec',
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, DATABASE_URL: url, NODE_ENV: 'test' } },
  );
  child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
});
await embedded?.stop();
process.exit(code);
