import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startVaultSimulator, type VaultSimulator } from '../src/dev/vault-sim/server.js';
import { QA_SPECIALIST, SIM_PASSWORD } from '../src/dev/vault-sim/seed.js';
import { toolJson } from './helpers/mcp.js';

const ARGS = ['--import', 'tsx', 'src/stdio.ts'];

describe('stdio mode end to end (SDK stdio client, spawned process, simulator)', () => {
  let sim: VaultSimulator;
  let dir: string;
  before(async () => {
    sim = await startVaultSimulator();
    dir = mkdtempSync(path.join(tmpdir(), 'vault-mcp-stdio-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await sim?.close();
  });
  const baseEnv = () => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    VAULT_URL: sim.url,
    VAULT_USERNAME: QA_SPECIALIST,
    LOG_LEVEL: 'silent',
  });

  it('serves the tools as the local Vault user (password file 0600) and logs out on exit', async () => {
    const file = path.join(dir, 'pw');
    writeFileSync(file, `${SIM_PASSWORD}\n`);
    chmodSync(file, 0o600);
    const client = new Client({ name: 'stdio-test', version: '0.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ARGS,
        env: { ...baseEnv(), VAULT_PASSWORD_FILE: file },
        stderr: 'pipe',
      }),
    );
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, [
      'documents_audit_trail',
      'documents_get',
      'documents_lifecycle_actions',
      'documents_query',
      'documents_read_text',
      'documents_search',
      'metadata_document_fields',
      'metadata_document_types',
      'metadata_object_fields',
      'metadata_objects',
      'objects_get',
      'objects_query',
      'picklists_get',
      'vql_query',
      'whoami',
      'workflows_get_task',
      'workflows_get_tasks',
    ]);
    const docs = toolJson(await client.callTool({ name: 'documents_query', arguments: { order_by: 'id' } }));
    assert.deepEqual(
      docs.documents.map((d: { id: number }) => d.id),
      [101, 103, 106, 107],
    );
    const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.vaultUser.username, QA_SPECIALIST);
    assert.equal(me.provider, 'local');
    assert.equal(sim.counters.logins[QA_SPECIALIST], 1);
    const logouts = sim.counters.logouts;
    await client.close();
    for (let i = 0; i < 50 && sim.counters.logouts === logouts; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(sim.counters.logouts, logouts + 1);
  });

  it('enables the write tool only with VAULT_STDIO_SCOPES', async () => {
    const client = new Client({ name: 'stdio-test', version: '0.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ARGS,
        stderr: 'pipe',
        env: { ...baseEnv(), VAULT_PASSWORD: SIM_PASSWORD, VAULT_STDIO_SCOPES: 'vault:read,vault:write' },
      }),
    );
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('documents_update'));
    assert.ok(!names.includes('vql_query'));
    const r = (await client.callTool({
      name: 'documents_update',
      arguments: { id: 101, fields: { title__v: 'x' } },
    })) as { isError?: boolean; content: { text: string }[] };
    assert.equal(r.isError, true);
    assert.match(r.content[0]!.text, /INSUFFICIENT_ACCESS/);
    await client.close();
  });

  it('`npm run stdio`: every stdout line is JSON-RPC (npm banner and logs go to stderr)', async () => {
    const child = spawn('npm', ['run', 'stdio'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      env: { ...baseEnv(), VAULT_PASSWORD: SIM_PASSWORD, LOG_LEVEL: 'info' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const answered = (id: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${id}:\n${stdout}\n${stderr}`)), 30_000);
        const check = () => {
          if (stdout.split('\n').some((l) => l.includes(`"id":${id}`))) {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            resolve();
          }
        };
        const onData = (c: Buffer) => {
          stdout += c.toString();
          check();
        };
        child.stdout.on('data', onData);
        check();
      });
    const send = (m: object) => child.stdin.write(`${JSON.stringify(m)}\n`);
    const init = answered(1);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'npm-run-stdio', version: '0' } },
    });
    await init;
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const listed = answered(2);
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await listed;
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.stdin.end();
    assert.equal(await exited, 0, stderr);

    const messages = stdout
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => {
        let m: { jsonrpc?: string; id: number; result: Record<string, unknown> } | undefined;
        try {
          m = JSON.parse(line) as typeof m;
        } catch {
          // reported below
        }
        assert.equal(m?.jsonrpc, '2.0', `stdout line is not JSON-RPC: ${JSON.stringify(line)}\nstdout:\n${stdout}`);
        return m;
      });
    const byId = new Map(messages.map((m) => [m.id, m]));
    assert.equal((byId.get(1)!.result.serverInfo as { name: string }).name, 'vault-mcp');
    assert.ok((byId.get(2)!.result.tools as unknown[]).length > 0);
    // What npm and the server print for people is on stderr.
    assert.match(stderr, /> vault-mcp@[\d.]+ stdio/);
    assert.match(stderr, /vault-mcp stdio ready/);
  });

  const runExpectingFailure = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ARGS, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });

  it('refuses a group/world-readable password file', async () => {
    const file = path.join(dir, 'pw-open');
    writeFileSync(file, SIM_PASSWORD);
    chmodSync(file, 0o644);
    const r = await runExpectingFailure({ ...baseEnv(), VAULT_PASSWORD_FILE: file });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /VAULT_PASSWORD_FILE: .* readable by group\/others .*chmod 600/);
    assert.ok(!r.stderr.includes(SIM_PASSWORD));
  });

  it('reports every missing setting at once', async () => {
    const r = await runExpectingFailure({ PATH: process.env.PATH ?? '' });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /VAULT_URL/);
    assert.match(r.stderr, /VAULT_USERNAME/);
  });
});
