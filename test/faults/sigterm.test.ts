/**
 * SIGTERM under load, to a real server process (`src/main.ts`, the production entry and its signal
 * handler): workers call a tool continuously, the process gets SIGTERM mid-load, drains and exits 0.
 * Every call it accepted and answered with a result is in the audit log, and the chain verifies.
 * Prints the figures.
 */
import { createAuditKeys } from '../../src/audit/keys.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { createPool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { DEFAULT_TEST_TENANTS, freePort, writeTenantsFile } from '../helpers/server.js';
import { existingTenant } from '../helpers/tenant-fixture.js';
import { report, tally } from './figures.js';

const WORKERS = 24;

describe('SIGTERM under load (a real server process)', () => {
  let db: TestDb;
  let issuer: DevIssuer;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let child: ChildProcess | undefined;
  let url: string;
  let stderr = '';

  before(async () => {
    db = await createTestDatabase();
    issuer = await startDevIssuer();
    tenantsFile = await writeTenantsFile(DEFAULT_TEST_TENANTS);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        OIDC_ISSUER: issuer.issuer,
        SECRET_KEY: 's'.repeat(32),
        TENANTS_FILE: tenantsFile.file,
        RATE_LIMIT_PER_MINUTE: '0',
        AUDIT_LINGER_MS: '2',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}${out.slice(-2000)}`)), 30_000);
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('vault-mcp listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child!.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}${out.slice(-2000)}`)));
    });
    child.stdout!.resume();
  });
  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await issuer?.close();
    await tenantsFile?.remove();
    await db?.drop();
  });

  it('every call answered with a result is audited; the process exits 0 after draining', async (t) => {
    const token = await issuer.mint({
      sub: 'loader',
      aud: `${url}/mcp`,
      email: 'qa.manager@acme.com',
      email_verified: true,
      scope: 'vault:read',
    });
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {} },
    });
    let seq = 0;
    const accepted: string[] = [];
    const outcomes: string[] = [];
    let answered = 0;
    let onAnswers!: () => void;
    const enoughAnswers = new Promise<void>((r) => (onAnswers = r));
    const worker = async () => {
      for (;;) {
        const id = `sig-${++seq}`;
        try {
          const res = await fetch(`${url}/mcp`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              authorization: `Bearer ${token}`,
              'x-request-id': id,
            },
            body,
          });
          const text = await res.text();
          if (++answered === 100) onAnswers();
          const ok = res.status === 200 && text.includes('"result"') && !text.includes('"isError":true');
          if (ok) accepted.push(id);
          outcomes.push(ok ? 'ok' : `HTTP ${res.status}`);
        } catch {
          outcomes.push('not accepted (connection refused or closed)');
          return; // the server stopped accepting: this worker is done
        }
      }
    };
    const workers = Array.from({ length: WORKERS }, worker);
    await enoughAnswers;
    const signalled = performance.now();
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGTERM');
    const code = await exited;
    const shutdownMs = Math.round(performance.now() - signalled);
    await Promise.all(workers);

    const pool = createPool({ url: db.url, max: 2, statementTimeoutMs: 5000 });
    try {
      const tenant = await existingTenant(pool, 'acme');
      const { rows } = await withTenant(pool, tenant.schema, (tx) =>
        tx.query<{ request_id: string }>("SELECT request_id FROM audit_log WHERE request_id LIKE 'sig-%'"),
      );
      const audited = new Set(rows.map((r) => r.request_id));
      const missing = accepted.filter((id) => !audited.has(id));
      report(t, 'SIGTERM under load', {
        calls: outcomes.length,
        outcomes: tally(outcomes),
        'accepted calls': accepted.length,
        'audit rows': audited.size,
        'missing rows': missing.length,
        'audited but answer lost': audited.size - accepted.length + missing.length,
        'shutdown ms (SIGTERM → exit)': shutdownMs,
        'exit code': String(code),
      });
      assert.equal(code, 0, `exit code; stderr: ${stderr.slice(-2000)}`);
      assert.ok(accepted.length >= 100, 'calls were accepted before the signal');
      assert.deepEqual(missing, [], 'every accepted call has its audit row');
      assert.equal((await verifyAuditChain(pool, tenant, { keys: createAuditKeys('s'.repeat(32)) })).ok, true);
    } finally {
      await pool.end();
    }
  });
});
