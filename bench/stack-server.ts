/**
 * Child-process entry for stack.bench.ts: runs ONE server variant in its own process, so the load
 * generator does not share the server's event loop and the ratio reflects server cost.
 * Sends `{ url, token }` over IPC when ready; on 'close' shuts down and sends `{ closed, note }`.
 *
 * Variants: `sim` (the Vault simulator every Vault variant calls), `bare` (the SDK's stateless
 * example, one static tool), `bare-vault` (the same bare server whose tools make the very Vault call
 * our tools make, with a session id it logged in for at startup), `full` (start() from src/main.ts).
 * The Vault variants read the simulator's URL from BENCH_SIM_URL.
 */
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import { z } from 'zod';
import { loadConfig } from '../src/config/index.js';
import { startDevIssuer } from '../src/dev/issuer.js';
import { createLogger } from '../src/log/index.js';
import { startVaultSimulator } from '../src/dev/vault-sim/server.js';
import { SERVICE_ACCOUNT } from '../src/dev/vault-sim/seed.js';
import { start } from '../src/main.js';
import { createVaultClient } from '../src/vault/client.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { freePort, writeTenantsFile } from '../test/helpers/server.js';
import { SIM_SECRETS } from '../test/helpers/vault.js';
import { BENCH_DOCS_VQL, whoamiVql } from './stack-calls.js';

export type VariantName = 'sim' | 'bare' | 'bare-vault' | 'full' | 'full-sdk';

interface Started {
  url: string;
  token: string | undefined;
  close(): Promise<string>;
}

const simUrl = () => {
  const u = process.env.BENCH_SIM_URL;
  if (!u) throw new Error('BENCH_SIM_URL is not set');
  return u;
};

/** The simulator, with a burst limit the bench cannot reach: we measure our overhead, not Vault throttling. */
async function sim(): Promise<Started> {
  const s = await startVaultSimulator({ burstLimit: 1_000_000_000 });
  return {
    url: s.url,
    token: undefined,
    async close() {
      const note = `Vault logins during the whole run: ${SERVICE_ACCOUNT} ${s.loginsFor(SERVICE_ACCOUNT)}; requests ${s.counters.requests}`;
      await s.close();
      return note;
    },
  };
}

/**
 * The SDK's stateless example: Express, `express.json()`, a new McpServer + transport per request,
 * JSON responses (as ours). With `vault`, its tools make the same Vault query ours make, on one
 * session logged in at startup: the floor for a server that calls Vault at all.
 */
async function bare(vault: boolean): Promise<Started> {
  let call: { whoami(): Promise<unknown>; documents(): Promise<unknown> } | undefined;
  if (vault) {
    const client = createVaultClient({ url: simUrl(), apiVersion: 'v25.2', clientId: 'bench-bare' });
    const auth = await client.auth(SERVICE_ACCOUNT, SIM_SECRETS.ACME_VAULT_PASSWORD!);
    call = {
      whoami: async () => (await client.query(auth.sessionId, whoamiVql(String(auth.userId)))).data[0],
      documents: async () => (await client.query(auth.sessionId, BENCH_DOCS_VQL)).data,
    };
  }
  const app = express();
  app.use(express.json());
  app.post('/mcp', async (req, res) => {
    const server = new McpServer({ name: 'bare', version: '1.0.0' });
    const text = (v: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(v) }] });
    server.registerTool('whoami', { description: 'identity' }, async () =>
      text({
        user: 'bench@acme.com',
        tenant: null,
        scopes: ['vault:read'],
        vaultUser: call ? await call.whoami() : null,
      }),
    );
    if (call) {
      const documents = () => call.documents();
      server.registerTool(
        'documents_query',
        { description: 'documents', inputSchema: { status: z.array(z.string()), page_size: z.number() } },
        async () => text({ documents: await documents() }),
      );
    }
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

/**
 * start() from src/main.ts with the dev issuer and the tenant `acme` (acme.com, service account on
 * the simulator) from a TENANTS_FILE, as in production; audit, metrics, rate limiter (limit out of
 * reach), info logging into /dev/null.
 */
async function full(mcpFastPath = true): Promise<Started> {
  const db = await createTestDatabase();
  const issuer = await startDevIssuer();
  const port = await freePort();
  const tenants = await writeTenantsFile({
    tenants: [
      {
        id: 'acme',
        domains: ['acme.com'],
        vault: {
          url: simUrl(),
          apiVersion: 'v25.2',
          auth: { mode: 'service_account', username: SERVICE_ACCOUNT, passwordEnv: 'ACME_VAULT_PASSWORD' },
        },
      },
    ],
  });
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: db.url,
    OIDC_ISSUER: issuer.issuer,
    SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789',
    TENANTS_FILE: tenants.file,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    RATE_LIMIT_PER_MINUTE: '10000000',
    RATE_LIMIT_BURST: '10000000',
    ...(process.env.BENCH_AUDIT_LINGER_MS ? { AUDIT_LINGER_MS: process.env.BENCH_AUDIT_LINGER_MS } : {}),
    ...(process.env.BENCH_JWT_CACHE_SECONDS ? { JWT_CACHE_SECONDS: process.env.BENCH_JWT_CACHE_SECONDS } : {}),
    // The shared rate-limit store: postgres by default (production's default without REDIS_URL).
    ...(process.env.BENCH_RATE_LIMIT_STORE ? { RATE_LIMIT_STORE: process.env.BENCH_RATE_LIMIT_STORE } : {}),
    ...(process.env.BENCH_REDIS_URL ? { REDIS_URL: process.env.BENCH_REDIS_URL } : {}),
  });
  const running = await start(config, {
    // The production logger (redaction, async writes), into /dev/null.
    log: createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'info', file: '/dev/null' }),
    secrets: (n) => SIM_SECRETS[n],
    mcpFastPath,
  });
  const token = await issuer.mint({
    sub: 'bench',
    aud: config.resource,
    email: 'bench@acme.com',
    email_verified: true,
    scope: 'vault:read',
  });
  return {
    url: running.url,
    token,
    async close() {
      const values = (await running.metrics.auditBatchSize.get()).values;
      const count = values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
      const sum = values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
      await running.close();
      await issuer.close();
      await db.drop();
      await tenants.remove();
      return `audit: ${sum} rows in ${count} transactions (mean batch ${(sum / Math.max(1, count)).toFixed(1)})`;
    },
  };
}

const variants: Record<VariantName, () => Promise<Started>> = {
  sim,
  bare: () => bare(false),
  'bare-vault': () => bare(true),
  full: () => full(true),
  'full-sdk': () => full(false),
};

if (process.send) {
  const started = await variants[process.argv[2] as VariantName]();
  process.send({ url: started.url, token: started.token });
  process.on('message', (m) => {
    // CPU time used by this server process, so the bench can report CPU per request (robust to noise).
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (m === 'close')
      void started.close().then((note) => process.send!({ closed: true, note }, () => process.exit(0)));
  });
}
