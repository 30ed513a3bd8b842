/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios) against
 * the real server. The suite sends no Authorization header, so a tiny proxy in front adds a valid
 * bearer token (and passes every other header, Host included, through unchanged).
 *
 * Only the scenarios that apply to a tools, resources, prompts and completions server run here; the
 * others need the suite's fixture tools/resources/prompts (`test_simple_text`, `test://static-text`,
 * …), server-to-client requests or SSE sessions a stateless server does not have. README lists them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { QA_MANAGER } from '../../src/dev/vault-sim/seed.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { SIM_SECRETS } from '../helpers/vault.js';

/** Scenarios that apply to this server (see README "MCP conformance"). */
export const APPLICABLE_SCENARIOS = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'completion-complete',
  'tools-list',
  'resources-list',
  'prompts-list',
  'dns-rebinding-protection',
] as const;

const CLI = path.resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');

/** Forward every request to `target`, adding `Authorization: Bearer <token>`. */
async function startAuthProxy(target: string, token: string): Promise<Server> {
  const t = new URL(target);
  const proxy = createServer((req, res) => {
    const up = request(
      {
        host: t.hostname,
        port: t.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, authorization: `Bearer ${token}` },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return proxy;
}

describe('MCP conformance suite, server scenarios (through a header-adding proxy)', () => {
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let s: TestServer;
  let proxy: Server;
  let out: string;

  before(async () => {
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    s = await startTestServer({ TENANTS_FILE: tenantsFile.file, RATE_LIMIT_PER_MINUTE: '0' }, { secrets: SIM_SECRETS });
    const token = await s.token({ sub: 'conformance', email: QA_MANAGER, scope: 'vault:read' });
    proxy = await startAuthProxy(s.url, token);
    out = await mkdtemp(path.join(tmpdir(), 'vmcp-conformance-'));
  });
  after(async () => {
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    await s?.close();
    await tenantsFile?.remove();
    await sim?.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  for (const scenario of APPLICABLE_SCENARIOS) {
    it(scenario, async () => {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
      const dir = path.join(out, scenario);
      const run = await promisify(execFile)(
        process.execPath,
        [CLI, 'server', '--url', url, '--scenario', scenario, '-o', dir],
        { timeout: 60_000 },
      ).catch((e: { stdout?: string; stderr?: string; code?: number }) => e);
      const files = await readdir(dir, { recursive: true });
      const checksFile = files.find((f) => f.endsWith('checks.json'));
      assert.ok(checksFile, `no checks.json from the suite: ${run.stdout ?? ''} ${run.stderr ?? ''}`);
      const checks = JSON.parse(await readFile(path.join(dir, checksFile), 'utf8')) as {
        id: string;
        status: string;
        errorMessage?: string;
      }[];
      assert.ok(checks.length > 0);
      const failed = checks.filter((c) => c.status === 'FAILURE');
      assert.deepEqual(failed, [], `${scenario}: ${JSON.stringify(failed)}`);
    });
  }
});
