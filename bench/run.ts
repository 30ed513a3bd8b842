/**
 * `npm run bench [-- name-filter]`: runs every bench/*.bench.ts in turn. Each file's default export
 * measures its variants side by side and prints ratios. Uses DATABASE_URL when set, else an embedded
 * Postgres under .data/bench-pg.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEmbeddedPostgres, type EmbeddedDb } from '../src/db/embedded.js';

const dir = path.dirname(new URL(import.meta.url).pathname);
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (!filters.length || filters.some((x) => f.includes(x))))
  .sort();

let embedded: EmbeddedDb | undefined;
if (!process.env.DATABASE_URL) {
  embedded = await startEmbeddedPostgres({
    dir: '.data/bench-pg',
    port: Number(process.env.BENCH_PG_PORT ?? 5435),
    database: 'postgres',
  });
  process.env.DATABASE_URL = embedded.url;
}
try {
  for (const f of files) {
    console.log(`\n## ${f}`);
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default: () => Promise<void> };
    await mod.default();
  }
} finally {
  await embedded?.stop();
}
