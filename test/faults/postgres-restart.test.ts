/**
 * Postgres restarted while requests flow, through the full server. Runs against a PRIVATE embedded
 * Postgres this test starts on its own port under a temp dir (never the shared server other tests
 * use), stops and starts it again: calls during the outage fail clearly (HTTP 503 or a tool error,
 * ERR_DB_UNAVAILABLE, no stack trace), and the same server process serves again once Postgres is
 * back, without a restart.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { startEmbeddedPostgres, type EmbeddedDb } from '../../src/db/embedded.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running } from '../../src/main.js';
import { freePort, writeTenantsFile } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { SIM_SECRETS } from '../helpers/vault.js';

type Outcome = 'ok' | 'db_unavailable' | `other: ${string}`;

describe('Postgres restart mid-load (private embedded Postgres)', () => {
  let dir: string;
  let port: number;
  let pg: EmbeddedDb;
  let issuer: DevIssuer;
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let server: Running;
  let token: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vmcp-pg-restart-'));
    // As root, embedded Postgres runs initdb as the `postgres` OS user, which must create the cluster here.
    if (process.getuid?.() === 0) await chmod(dir, 0o777);
    port = await freePort();
    pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port });
    issuer = await startDevIssuer();
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(await freePort()),
      DATABASE_URL: pg.url,
      OIDC_ISSUER: issuer.issuer,
      SECRET_KEY: 'p'.repeat(32),
      TENANTS_FILE: tenantsFile.file,
      RATE_LIMIT_PER_MINUTE: '0',
      TENANT_CACHE_TTL_MS: '0', // every request resolves its tenant in Postgres, so the outage shows at once
      LOG_LEVEL: 'silent',
    });
    server = await start(config, {
      log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      secrets: (n) => SIM_SECRETS[n],
    });
    token = await issuer.mint({
      sub: 'alice',
      aud: config.resource,
      email: 'alice@globex.com',
      email_verified: true,
      scope: 'vault:read',
    });
  });
  after(async () => {
    await server?.close().catch(() => undefined);
    await pg?.stop();
    await issuer?.close();
    await sim?.close();
    await tenantsFile?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = async (): Promise<Outcome> => {
    const res = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'documents_query', arguments: { page_size: 3 } },
      }),
    });
    const text = await res.text();
    if (/\n\s+at |node_modules|\.ts:\d+/.test(text)) return `other: stack trace in ${text.slice(0, 200)}`;
    const body = JSON.parse(text) as {
      result?: { isError?: boolean; content: { text: string }[] };
      error?: { message: string; data?: { code?: string } };
    };
    if (res.status === 200 && body.result && !body.result.isError) return 'ok';
    if (res.status === 200 && body.result?.content[0]!.text.startsWith('ERR_DB_UNAVAILABLE: ')) return 'db_unavailable';
    if (
      res.status === 503 &&
      body.error?.data?.code === 'ERR_DB_UNAVAILABLE' &&
      res.headers.get('content-type')?.includes('json')
    )
      return 'db_unavailable';
    return `other: HTTP ${res.status} ${text.slice(0, 200)}`;
  };

  it('calls during the outage fail with ERR_DB_UNAVAILABLE; the same process recovers once Postgres is back', async () => {
    const results: Outcome[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    const byPhase: Record<string, Outcome[]> = { before: [], down: [], after: [] };
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const p = phase;
        const r = await call();
        results.push(r);
        byPhase[p]!.push(r);
      }
    });
    const until = async (cond: () => boolean) => {
      while (!cond()) await sleep(20);
    };
    await until(() => byPhase.before!.filter((r) => r === 'ok').length >= 20);
    await pg.stop();
    phase = 'down';
    await until(() => byPhase.down!.length >= 20);
    const readyDown = await fetch(`${server.url}/readyz`);
    assert.equal(readyDown.status, 503);
    pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port });
    phase = 'after';
    // Pooled connections to the old server are dead; the pool must replace them on its own.
    await until(() => byPhase.after!.filter((r) => r === 'ok').length >= 20);
    stop = true;
    await Promise.all(workers);

    assert.deepEqual(
      results.filter((r) => r.startsWith('other')),
      [],
      'every call either succeeded or failed with ERR_DB_UNAVAILABLE',
    );
    assert.ok(
      byPhase.down!.filter((r) => r === 'db_unavailable').length >= 10,
      `outage calls: ${JSON.stringify(byPhase.down!.slice(0, 30))}`,
    );
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});
