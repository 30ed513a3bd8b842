/**
 * Audit, metrics and rate limits through real HTTP: the full server (start()) for the wiring, and an
 * app built with createApp for tools that need scopes or fail (whoami needs none and never fails).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { createAuditWriter } from '../../src/audit/index.js';
import { createTokenVerifier } from '../../src/auth/create-verifier.js';
import { createOidcVerifier } from '../../src/auth/oidc-verifier.js';
import { loadConfig } from '../../src/config/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { AppError } from '../../src/errors/index.js';
import { createApp } from '../../src/http/app.js';
import { listen, type HttpHandle } from '../../src/http/listen.js';
import { createLogger } from '../../src/log/index.js';
import { defineTool } from '../../src/mcp/tool.js';
import { createMetrics } from '../../src/metrics/index.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { scrape, TEST_METRICS_TOKEN } from '../helpers/metrics.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { createTenantFixture, existingTenant } from '../helpers/tenant-fixture.js';

const log = createLogger({ level: 'silent' });

type AuditRow = {
  request_id: string;
  subject: string;
  provider: string;
  tool: string;
  scopes: string[];
  outcome: string;
  error_code: string | null;
  latency_ms: number;
  hash: Buffer;
  details: unknown;
};

interface RpcBody {
  result: { isError?: boolean; content: { text: string }[] };
  error: { message: string; data: { code: string } };
}

async function auditRows(pool: Pool, t: Tenant) {
  const r = await withTenant(pool, t.schema, (tx) => tx.query<AuditRow>('SELECT * FROM audit_log ORDER BY id'));
  return r.rows;
}

function mcpPost(url: string, token: string, body: unknown) {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(body),
  });
}

const callTool = (name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('full server: every tool call is audited before the response; /metrics; rate limits', () => {
  let s: TestServer;
  let pool: Pool;
  let tenant: Tenant | undefined;
  before(async () => {
    s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '60', RATE_LIMIT_BURST: '20' });
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
    tenant = await existingTenant(pool, 'acme');
  });
  after(async () => {
    await pool?.end();
    await s?.close();
  });

  it('whoami: the audit row names request id, subject, provider, tool, scopes, outcome and latency', async () => {
    const res = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await s.token({ sub: 'alice', scope: 'vault:read vault:vql' })}`,
        'x-request-id': 'req-audit-1',
      },
      body: JSON.stringify(callTool('whoami')),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as RpcBody;
    assert.equal(JSON.parse(body.result.content[0]!.text).tenant, 'acme');
    // record() resolved before the response was sent, so the row is there now.
    const row = (await auditRows(pool, tenant!)).find((r) => r.request_id === 'req-audit-1');
    assert.ok(row, 'audit row written before the response');
    assert.equal(row.subject, `oidc:${s.issuer.issuer}|alice`);
    assert.equal(row.provider, 'oidc');
    assert.equal(row.tool, 'whoami');
    assert.deepEqual(row.scopes, ['vault:read', 'vault:vql']);
    assert.equal(row.outcome, 'ok');
    assert.equal(row.error_code, null);
    assert.equal(typeof row.latency_ms, 'number');
    assert.equal(row.hash.length, 32);
  });

  it('the SDK client path is audited too, and no token appears anywhere in the audit log', async () => {
    const token = await s.token({ sub: 'bob' });
    const client = await connectClient(s.url, token);
    toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.close();
    const rows = await auditRows(pool, tenant!);
    assert.ok(rows.some((r) => r.subject.endsWith('|bob') && r.tool === 'whoami'));
    assert.ok(!JSON.stringify(rows).includes(token.split('.')[2]!));
  });

  it('/metrics (METRICS_TOKEN) counts tool calls per tenant and auth failures by reason', async () => {
    await fetch(`${s.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }); // no token
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const text = await res.text();
    assert.match(text, /vault_mcp_tool_calls_total\{tool="whoami",outcome="ok",tenant="acme"\} [1-9]/);
    assert.match(text, /vault_mcp_auth_failures_total\{reason="ERR_AUTH_MISSING",tenant=""\} [1-9]/);
    assert.match(text, /vault_mcp_http_requests_total\{route="\/mcp",method="POST",status="401"\} [1-9]/);
    assert.match(text, /vault_mcp_audit_batch_size_count [1-9]/);
    assert.match(text, /vault_mcp_vault_session_cache_total/);
  });

  it('answers 429 with Retry-After once the tenant burst is spent, and counts it', async () => {
    const token = await s.token({ sub: 'carol' });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 25; i++) {
      const res = await mcpPost(s.url, token, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        const body = (await res.json()) as RpcBody;
        assert.equal(body.error.data.code, 'ERR_RATE_LIMITED');
        assert.match(body.error.message, /tenant 'acme'/);
      } else await res.arrayBuffer();
    }
    assert.ok(statuses.includes(429), `expected a 429 in ${statuses.join(',')}`);
    assert.ok(Number(retryAfter) >= 1, `Retry-After ${retryAfter}`);
    assert.match(await scrape(s.url), /vault_mcp_rate_limited_total\{tenant="acme"\} [1-9]/);
  });
});

describe('createApp hooks: denied and failed calls are audited; an unwritable audit log withholds the result', () => {
  let db: TestDb;
  let pool: Pool;
  let issuer: DevIssuer;
  let tenant: Tenant;
  let http: HttpHandle;
  let deadHttp: HttpHandle;
  let resource: string;
  const dead = createPool({ url: 'postgres://postgres@127.0.0.1:1/none', max: 1, statementTimeoutMs: 1000 });
  const metrics = createMetrics({ defaultMetrics: false });
  const tools = [
    defineTool({
      name: 'approve',
      title: 'Approve',
      description: 'test tool needing vault:write',
      scopes: ['vault:write'],
      input: { id: z.string(), password: z.string().optional() },
      run(args) {
        if (args.id === 'boom') return Promise.reject(new AppError('ERR_VAULT', 'Vault said no'));
        return Promise.resolve({ value: { approved: args.id } });
      },
    }),
  ];

  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ url: db.url, max: 4, statementTimeoutMs: 5000 });
    tenant = await createTenantFixture(pool, 'globex');
    issuer = await startDevIssuer();
    const port = await freePort();
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: db.url,
      OIDC_ISSUER: issuer.issuer,
      SECRET_KEY: 'k'.repeat(32),
      METRICS_TOKEN: 'metrics-token-0123456789',
    });
    resource = config.resource;
    const verifier = createTokenVerifier({
      jwt: [createOidcVerifier({ ...config.auth.oidc!, clockSkewSeconds: 60 })],
      maxTokenBytes: 16384,
    });
    const common = {
      config,
      log,
      verifier,
      tools,
      authorizationServers: [issuer.issuer],
      resolveTenant: () => Promise.resolve(tenant),
      readiness: () => Promise.resolve({ ready: true }),
      metrics,
    };
    http = await listen(createApp({ ...common, audit: createAuditWriter({ pool, log }) }), { port, host: '127.0.0.1' });
    deadHttp = await listen(createApp({ ...common, audit: createAuditWriter({ pool: dead, log }) }), {
      port: 0,
      host: '127.0.0.1',
    });
  });
  after(async () => {
    await http?.close();
    await deadHttp?.close();
    await issuer?.close();
    await dead.end();
    await pool?.end();
    await db?.drop();
  });

  it('a call without the tool scope: 403 insufficient_scope, audited as denied with the tool name', async () => {
    const res = await mcpPost(
      http.url,
      await issuer.mint({ sub: 'dave', aud: resource, scope: 'vault:read' }),
      callTool('approve', { id: '1' }),
    );
    assert.equal(res.status, 403);
    const row = (await auditRows(pool, tenant)).find((r) => r.subject.endsWith('|dave'));
    assert.ok(row);
    assert.equal(row.outcome, 'denied');
    assert.equal(row.error_code, 'ERR_AUTH_INSUFFICIENT_SCOPE');
    assert.equal(row.tool, 'approve');
  });

  it('a tool error is audited as error with its code; the input summary redacts secrets', async () => {
    const res = await mcpPost(
      http.url,
      await issuer.mint({ sub: 'erin', aud: resource, scope: 'vault:read vault:write' }),
      callTool('approve', { id: 'boom', password: 'hunter2' }),
    );
    const body = (await res.json()) as RpcBody;
    assert.equal(body.result.isError, true);
    const row = (await auditRows(pool, tenant)).find((r) => r.subject.endsWith('|erin'));
    assert.equal(row?.outcome, 'error');
    assert.equal(row?.error_code, 'ERR_VAULT');
    assert.deepEqual(row?.details, { args: { id: 'boom', password: '[redacted]' } });
  });

  it('when the audit row cannot be written, the caller gets ERR_DB_UNAVAILABLE instead of the result', async () => {
    const res = await mcpPost(
      deadHttp.url,
      await issuer.mint({ sub: 'frank', aud: resource, scope: 'vault:read vault:write' }),
      callTool('approve', { id: 'ok' }),
    );
    const body = (await res.json()) as RpcBody;
    assert.equal(body.result.isError, true);
    assert.match(body.result.content[0]!.text, /^ERR_DB_UNAVAILABLE: The audit log could not be written/);
    assert.ok(!JSON.stringify(body).includes('approved'));
  });

  it('with METRICS_TOKEN, /metrics needs it', async () => {
    assert.equal((await fetch(`${http.url}/metrics`)).status, 401);
    assert.equal(
      (await fetch(`${http.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
      401,
    );
    const ok = await fetch(`${http.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789' } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /vault_mcp_tool_calls_total\{tool="approve",outcome="error",tenant="globex"\} 1/);
  });
});

describe('probes and /metrics vs the Host header', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ METRICS_TOKEN: undefined, METRICS_PORT: '0' });
  });
  after(async () => {
    await s?.close();
  });

  const get = async (path: string, host: string) => {
    const { request } = await import('node:http');
    return new Promise<number>((resolve, reject) => {
      const u = new URL(path, s.url);
      request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
        .on('error', reject)
        .end();
    });
  };

  it('health probes answer any Host (platform checks use the machine IP); other routes still refuse it', async () => {
    assert.equal(await get('/healthz', '10.0.0.7:3000'), 200);
    assert.equal(await get('/readyz', 'healthcheck.railway.app'), 200);
    assert.equal(await get('/.well-known/oauth-protected-resource', 'evil.example'), 403);
  });

  it('without METRICS_TOKEN the main port answers 404 for /metrics, even to loopback with a loopback Host', async () => {
    assert.equal(await get('/metrics', `127.0.0.1:${new URL(s.url).port}`), 404);
    assert.equal(await get('/metrics', 'localhost'), 404);
  });

  it('METRICS_PORT (127.0.0.1) serves /metrics to a loopback Host only (DNS rebinding from a local browser)', async () => {
    const m = new URL(s.running.metricsUrl!);
    assert.equal(m.hostname, '127.0.0.1');
    const { request } = await import('node:http');
    const getOn = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: m.hostname, port: m.port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on('error', reject)
          .end();
      });
    assert.equal(await getOn('/metrics', m.host), 200);
    assert.equal(await getOn('/metrics', 'localhost'), 200);
    assert.equal(await getOn('/metrics', 'rebind.attacker.example'), 403);
    assert.equal(await getOn('/mcp', m.host), 404, 'the metrics port serves nothing else');
  });
});
