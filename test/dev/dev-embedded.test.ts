/**
 * `npm run dev` with no DATABASE_URL, as a newcomer runs it: the embedded Postgres starts (as root too,
 * with a data directory inside a 0700 parent, as in a root home), the admin CLIs run beside it against
 * the same database instead of starting a second Postgres, the banner's no-header mcp-remote command
 * signs the first demo user in with one click (the README promise), and Ctrl-C stops everything.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { toolJson } from '../helpers/mcp.js';
import { connectMcpRemote } from '../helpers/mcp-remote.js';
import { freePort } from '../helpers/server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let child: ChildProcess | undefined;
let parent: string;
let dataDir: string;
let out = '';
let env: NodeJS.ProcessEnv;
let clusterDir: string | undefined;

before(async () => {
  parent = await mkdtemp(path.join(tmpdir(), 'vmcp-dev-embedded-'));
  await chmod(parent, 0o700);
  dataDir = path.join(parent, 'data');
  env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', EMBEDDED_PG_PORT: String(await freePort()) };
  delete env.DATABASE_URL;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/dev.ts'], {
    cwd: ROOT,
    env: {
      ...env,
      PORT: String(await freePort()),
      DEV_ISSUER_PORT: String(await freePort()),
      VAULT_SIM_PORT: String(await freePort()),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run dev did not start in 90 s:\n${out}\n${err}`)), 90_000);
    child!.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child!.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm run dev exited with ${code}:\n${out}\n${err}`));
    });
  });
  clusterDir = /Postgres {5}: embedded on 127\.0\.0\.1:\d+, data in (\S+)/.exec(out)?.[1];
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (clusterDir && !clusterDir.startsWith(parent)) await rm(clusterDir, { recursive: true, force: true });
  await rm(parent, { recursive: true, force: true });
});

function npmRun(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const c = spawn('npm', ['run', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

it('prints where the embedded Postgres keeps its data (outside the 0700 parent when root)', async () => {
  assert.ok(clusterDir, out);
  assert.ok(existsSync(path.join(clusterDir, 'PG_VERSION')), clusterDir);
  if (process.getuid?.() === 0) {
    assert.ok(!clusterDir.startsWith(parent), clusterDir);
    assert.match(out, new RegExp(`not under DATA_DIR: the "postgres" OS user .* cannot enter ${parent}`));
    assert.equal((await readFile(path.join(dataDir, 'pg.location'), 'utf8')).trim(), clusterDir);
  }
});

it('npm run tenants and npm run audit use the running database (they see the demo tenant)', async () => {
  const tenants = await npmRun(['tenants', '--', 'list', '--json']);
  assert.equal(tenants.code, 0, tenants.stderr);
  assert.deepEqual(
    (JSON.parse(tenants.stdout) as { id: string }[]).map((t) => t.id),
    ['acme'],
  );
  const audit = await npmRun(['audit', '--', 'verify']);
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /^acme: OK \d+ rows/m);
  // Still the same single cluster, still serving the dev server.
  assert.ok(existsSync(path.join(clusterDir!, 'postmaster.pid')));
});

it("the newcomer's first client: the banner's first command as printed (mcp-remote, no header), one click, whoami", async () => {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.startsWith('Connect a client: paste the URL, sign in in the browser'));
  assert.ok(i >= 0, out);
  const command = lines[i + 1]!.trim();
  assert.match(
    command,
    /^npx -y mcp-remote@latest http:\/\/127\.0\.0\.1:\d+\/mcp$/,
    'no --header: the browser sign-in',
  );
  const t0 = Date.now();
  // The devDependency mcp-remote (0.15.1, what @latest names today), its browser clicking the first demo user.
  const remote = await connectMcpRemote(command.split(' ').at(-1)!);
  try {
    const me = toolJson(await remote.client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.user, 'qa.manager@acme.com');
    assert.equal(me.tenant, 'acme');
    assert.equal(me.vaultUser.mode, 'delegated');
    assert.match(await remote.diagnostics(), /after login → consent/);
    if (process.env.E2E_TRACE) console.log(`sign-in + whoami through mcp-remote: ${Date.now() - t0} ms`);
  } finally {
    await remote.close();
  }
});

it('Ctrl-C (SIGINT) stops the server and its embedded Postgres', async () => {
  const code = await new Promise<number | null>((resolve) => {
    child!.once('exit', (c) => resolve(c));
    child!.kill('SIGINT');
  });
  assert.equal(code, 0);
  for (let i = 0; i < 50 && existsSync(path.join(clusterDir!, 'postmaster.pid')); i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(existsSync(path.join(clusterDir!, 'postmaster.pid')), false, 'the cluster is stopped');
});
