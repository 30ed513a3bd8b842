/**
 * `npm run dev` as a user runs it (a child process, here against a test database instead of the
 * embedded one): it prints tokens, and the printed tokens work with the SDK client against the demo
 * tenant (delegated mode on the simulator: the two users see different documents).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { freePort } from '../helpers/server.js';

let child: ChildProcess | undefined;
let db: TestDb;
let dataDir: string;
let out = '';
let port: number;

before(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'vmcp-dev-'));
  port = await freePort();
  child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/dev.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      PORT: String(port),
      DEV_ISSUER_PORT: String(await freePort()),
      VAULT_SIM_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run dev did not start in 60 s:\n${out}\n${err}`)), 60_000);
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
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const tokenAfter = (heading: string) => {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(i >= 0, `no "${heading}" in:\n${out}`);
  return lines[i + 1]!.trim();
};

it('prints the endpoint and tokens that work with the SDK client: documents_query as each demo user', async () => {
  assert.ok(out.includes(`MCP endpoint : http://127.0.0.1:${port}/mcp`), out);
  const url = `http://127.0.0.1:${port}`;
  const seen: Record<string, number[]> = {};
  for (const [who, heading] of [
    ['manager', 'Dev token'],
    ['specialist', 'Second user'],
  ] as const) {
    const c = await connectClient(url, tokenAfter(heading));
    try {
      const r = toolJson(await c.callTool({ name: 'documents_query', arguments: { order_by: 'id', page_size: 50 } }));
      seen[who] = r.documents.map((d: { id: number }) => d.id);
      assert.equal(toolJson(await c.callTool({ name: 'whoami', arguments: {} })).vaultUser.mode, 'delegated');
    } finally {
      await c.close();
    }
  }
  assert.deepEqual(seen, { manager: [101, 102, 103, 104, 105, 106, 107, 108], specialist: [101, 103, 106, 107] });
});

it('serves a sign-in page listing the demo users, with signing keys kept in the data dir (0600)', async () => {
  const issuerUrl = /OIDC issuer\s*: (\S+)/.exec(out)![1]!;
  // The banner names the redirect URI the dev issuer is given (the generic OIDC provider's own).
  const redirectUri = /Redirect URI\s*: (\S+)/.exec(out)?.[1];
  assert.equal(redirectUri, `http://127.0.0.1:${port}/oauth/callback/oidc`);
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'vault-mcp-dev',
    redirect_uri: redirectUri,
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
  });
  const page = await (await fetch(`${issuerUrl}/authorize?${q.toString()}`)).text();
  assert.match(page, /data-email="qa\.manager@acme\.com"/);
  assert.match(page, /data-email="qa\.specialist@acme\.com"/);
  const mode = (await stat(path.join(dataDir, 'dev-issuer-keys.json'))).mode & 0o777;
  assert.equal(mode, 0o600);
});

it('stops cleanly on SIGTERM', async () => {
  const code = await new Promise<number | null>((resolve) => {
    child!.once('exit', (c) => resolve(c));
    child!.kill('SIGTERM');
  });
  assert.equal(code, 0);
});
