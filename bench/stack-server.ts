/**
 * Child-process entry for stack.bench.ts: runs ONE server variant in its own process, so the load
 * generator does not share the server's event loop and the ratio reflects server cost.
 * Sends `{ url, token }` over IPC when ready; on 'close' shuts down and sends `{ closed, note }`.
 */
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import express from 'express';
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { createPool } from '../src/db/pool.js';
import { startDevIssuer } from '../src/dev/issuer.js';
import { start } from '../src/main.js';
import type { Tenant } from '../src/tenancy/tenant.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { freePort } from '../test/helpers/server.js';
import { createTenantFixture } from '../test/helpers/tenant-fixture.js';

export type VariantName = 'bare' | 'bare-shared-ajv' | 'full';

interface Started {
  url: string;
  token: string | undefined;
  close(): Promise<string>;
}

/**
 * The SDK's stateless example reduced to one trivial tool, JSON responses (as ours). With
 * `sharedAjv`, it also reuses one JSON-schema validator as src/mcp/server.ts does, which shows our
 * overhead without that fix.
 */
async function bare(sharedAjv = false): Promise<Started> {
  const jsonSchemaValidator = sharedAjv ? new AjvJsonSchemaValidator() : undefined;
  const app = express();
  app.use(express.json());
  app.post('/mcp', async (req, res) => {
    const server = new McpServer({ name: 'bare', version: '1.0.0' }, jsonSchemaValidator ? { jsonSchemaValidator } : {});
    server.registerTool('whoami', { description: 'static identity' }, async () => ({
      content: [{ type: 'text', text: JSON.stringify({ user: 'bench@example.com', tenant: null, scopes: ['vault:read'] }) }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const srv = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => srv.once('listening', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    token: undefined,
    close: () =>
      new Promise<string>((r) => {
        srv.closeAllConnections();
        srv.close(() => r(''));
      }),
  };
}

/** start() from src/main.ts: dev issuer, one tenant, audit, metrics, rate limiter, info logging to /dev/null. */
async function full(): Promise<Started> {
  const db = await createTestDatabase();
  const issuer = await startDevIssuer();
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: db.url,
    OIDC_ISSUER: issuer.issuer,
    SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    RATE_LIMIT_PER_MINUTE: '10000000',
    RATE_LIMIT_BURST: '10000000',
    ...(process.env.BENCH_AUDIT_LINGER_MS ? { AUDIT_LINGER_MS: process.env.BENCH_AUDIT_LINGER_MS } : {}),
  });
  let tenant: Tenant | undefined;
  const running = await start(config, { log: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'info' }, pino.destination('/dev/null')), resolveTenant: async () => tenant });
  const pool = createPool({ url: db.url, max: 2, statementTimeoutMs: 10_000 });
  tenant = await createTenantFixture(pool, 'bench');
  const token = await issuer.mint({ sub: 'bench', aud: config.resource, email: 'bench@acme.com', email_verified: true, scope: 'vault:read' });
  return {
    url: running.url,
    token,
    async close() {
      const values = (await running.metrics.auditBatchSize.get()).values;
      const count = values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
      const sum = values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
      await running.close();
      await pool.end();
      await issuer.close();
      await db.drop();
      return `audit: ${sum} rows in ${count} transactions (mean batch ${(sum / Math.max(1, count)).toFixed(1)})`;
    },
  };
}

const variants: Record<VariantName, () => Promise<Started>> = { bare: () => bare(), 'bare-shared-ajv': () => bare(true), full };

if (process.send) {
  const started = await variants[process.argv[2] as VariantName]();
  process.send({ url: started.url, token: started.token });
  process.on('message', (m) => {
    // CPU time used by this server process, so the bench can report CPU per request (robust to noise).
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (m === 'close') void started.close().then((note) => process.send!({ closed: true, note }, () => process.exit(0)));
  });
}
