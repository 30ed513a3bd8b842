/**
 * Every port the local setup binds (README, "Ports") is overridable, and a taken one ends the start with
 * a non-zero exit and ONE line on stderr naming the port and its variable: no stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { freePort } from '../helpers/server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = import.meta.resolve('tsx');

function run(script: string, env: Record<string, string | undefined>, cwd = ROOT) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, script)], {
      cwd,
      env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} still running after 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function assertOneLine(
  r: { code: number | null; stdout: string; stderr: string },
  prefix: string,
  port: number,
  variable: string,
) {
  assert.notEqual(r.code, 0, r.stdout + r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.deepEqual(
    lines,
    [
      `${prefix}port ${port} on 127.0.0.1 is already in use (${variable}): stop the process holding it or set ${variable} to a free port`,
    ],
    `stderr:\n${r.stderr}`,
  );
  assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, 'no stack trace');
}

describe('a taken port', () => {
  let holder: Server;
  let taken: number;
  let db: TestDb;
  let dataDir: string;
  const base = () => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  });

  before(async () => {
    holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    taken = (holder.address() as { port: number }).port;
    db = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'vmcp-ports-'));
  });
  after(async () => {
    await new Promise((r) => holder.close(r));
    await db?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const devPorts = async () => ({
    PORT: String(await freePort()),
    DEV_ISSUER_PORT: String(await freePort()),
    VAULT_SIM_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
  });

  for (const variable of ['PORT', 'DEV_ISSUER_PORT', 'VAULT_SIM_PORT'] as const) {
    it(`npm run dev: ${variable}`, async () => {
      const r = await run('src/dev/dev.ts', {
        ...base(),
        ...(await devPorts()),
        DATABASE_URL: db.url,
        [variable]: String(taken),
      });
      assertOneLine(r, 'vault-mcp dev: ', taken, variable);
    });
  }

  it('npm run dev: EMBEDDED_PG_PORT (no DATABASE_URL)', async () => {
    const r = await run('src/dev/dev.ts', { ...base(), ...(await devPorts()), EMBEDDED_PG_PORT: String(taken) });
    assertOneLine(r, 'vault-mcp dev: ', taken, 'EMBEDDED_PG_PORT');
  });

  it('npm run dev: two settings naming the same port', async () => {
    const ports = await devPorts();
    const r = await run('src/dev/dev.ts', { ...base(), ...ports, DATABASE_URL: db.url, VAULT_SIM_PORT: ports.PORT });
    assert.equal(r.code, 78);
    assert.match(r.stderr, new RegExp(`VAULT_SIM_PORT: port ${ports.PORT} is also PORT`));
  });

  it('npm start (node dist/main.js): PORT', async () => {
    const r = await run('src/main.ts', { ...base(), DATABASE_URL: db.url, PORT: String(taken), NODE_ENV: 'test' });
    assertOneLine(r, 'vault-mcp: failed to start: ', taken, 'PORT');
  });

  it('npm run vault-sim: VAULT_SIM_PORT', async () => {
    const r = await run('src/dev/vault-sim/main.ts', { ...base(), VAULT_SIM_PORT: String(taken) });
    assertOneLine(r, 'vault-sim: ', taken, 'VAULT_SIM_PORT');
  });

  it('npm test without DATABASE_URL: TEST_PG_PORT', async () => {
    // A checkout of its own, so a real test run in this one (its .data/test-pg) is not in the way.
    const cwd = await mkdtemp(path.join(tmpdir(), 'vmcp-ports-checkout-'));
    try {
      await mkdir(path.join(cwd, 'test'));
      await writeFile(path.join(cwd, 'test', 'never.test.ts'), 'throw new Error("must not run");\n');
      const r = await run('scripts/test.ts', { ...base(), TEST_PG_PORT: String(taken) }, cwd);
      assertOneLine(r, 'npm test: ', taken, 'TEST_PG_PORT');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
