/**
 * Tool-call latency as the number of tenant schemas grows: 1, 100 and 5,000 schemas in one database,
 * measured in the same run and printed as ratios to the 1-tenant case.
 *
 * Each call is a real MCP `tools/call` over HTTP: bearer verification, tenant resolution (cached, as in
 * production), then a tool that reads the caller's tenant tables through withTenant (BEGIN, search_path,
 * SET LOCAL ROLE, two SELECTs, COMMIT). Callers rotate over every tenant, so each pooled connection
 * touches many schemas (the catalog-cache cost that grows with tenant count). A last row keeps all
 * 5,000 schemas but sends every call to one tenant, to separate catalog size from working-set size.
 *
 * Env: BENCH_TENANTS, BENCH_DURATION_MS (default 3000), BENCH_CONCURRENCY (8). Provisioning 5,000
 * tenants (schema + tables + role each) takes 1.5-2.5 minutes on a small machine, so the 5,000 case runs
 * when this bench is asked for by name (`npm run bench -- tenants`, default "1,100,5000"); in a plain
 * `npm run bench` it measures "1,100,1000".
 */
import { createOidcVerifier } from '../src/auth/oidc-verifier.js';
import { createTokenVerifier } from '../src/auth/create-verifier.js';
import { loadConfig } from '../src/config/index.js';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { withTenant } from '../src/db/with-tenant.js';
import { startDevIssuer } from '../src/dev/issuer.js';
import { createApp } from '../src/http/app.js';
import { listen } from '../src/http/listen.js';
import { createLogger } from '../src/log/index.js';
import { defineTool } from '../src/mcp/tool.js';
import { whoami } from '../src/mcp/tools/whoami.js';
import {
  createTenantResolver,
  DEFAULT_PUBLIC_EMAIL_DOMAINS,
  provisionTenants,
  type TenantInput,
} from '../src/tenancy/index.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { measure, printTable, type Stats } from './lib.js';

const input = (i: number): TenantInput => ({
  id: `bench-${i}`,
  domains: [`bench-${i}.example`],
  includeSubdomains: false,
  vault: {
    url: 'https://bench.veevavault.com',
    apiVersion: 'v25.2',
    auth: { mode: 'service_account', username: 'bot@bench.example' },
  },
});

export default async function run(): Promise<void> {
  const byName = process.argv.slice(2).some((a) => 'tenants.bench.ts'.includes(a));
  const counts = (process.env.BENCH_TENANTS ?? (byName ? '1,100,5000' : '1,100,1000'))
    .split(',')
    .map(Number)
    .filter((n) => n > 0)
    .sort((a, b) => a - b);
  const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
  const db = await createTestDatabase();
  const issuer = await startDevIssuer();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    OIDC_ISSUER: issuer.issuer,
    PORT: '0',
    LOG_LEVEL: 'silent',
  });
  const pool = createPool({ url: db.url, max: 10, statementTimeoutMs: 60_000 });
  try {
    const m = await loadMigrations();
    await migrate(pool, { migrations: m });
    const deps = { migrations: m.tenant, roles: true, publicDomains: new Set(DEFAULT_PUBLIC_EMAIL_DOMAINS) };
    // A small tenant-scoped read, standing in for any tool that touches tenant data.
    const read = defineTool({
      name: 'bench_tenant_read',
      title: 'Benchmark tenant read',
      description: "Reads the caller's tenant tables.",
      scopes: [],
      input: {},
      run: (_args, ctx) =>
        withTenant(pool, ctx.tenant!, async (tx) => {
          const a = await tx.query('SELECT count(*) FROM user_mappings WHERE subject = $1', [ctx.user.subject]);
          const b = await tx.query('SELECT id FROM audit_log ORDER BY id DESC LIMIT 1');
          return { value: { rows: a.rowCount + b.rowCount, tenant: ctx.tenant!.id } };
        }),
    });
    const app = createApp({
      config,
      log: createLogger({ level: 'silent' }),
      verifier: createTokenVerifier({
        jwt: [createOidcVerifier({ ...config.auth.oidc!, clockSkewSeconds: 60 })],
        maxTokenBytes: 16384,
      }),
      tools: [whoami, read],
      authorizationServers: [issuer.issuer],
      resolveTenant: createTenantResolver({ pool, ...deps, publicDomainsPolicy: 'refuse', cacheTtlMs: 30_000 }),
      readiness: async () => ({ ready: true }),
    });
    const http = await listen(app, { port: 0, host: '127.0.0.1' });
    const tokens: string[] = [];
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'bench_tenant_read', arguments: {} },
    });
    const call = (token: string) => async () => {
      const res = await fetch(`${http.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });
      const text = await res.text();
      if (res.status !== 200 || text.includes('"isError":true')) throw new Error(text);
    };
    const rows: Stats[] = [];
    let have = 0;
    try {
      for (const n of counts) {
        const t0 = performance.now();
        // Bulk provisioning: 50 tenants per transaction (each still gets schema, tables and role).
        for (let i = have; i < n; i += 50) {
          await provisionTenants(
            pool,
            Array.from({ length: Math.min(50, n - i) }, (_, k) => input(i + k)),
            deps,
          );
        }
        if (n > have)
          console.log(
            `provisioned ${n - have} tenant(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s (total ${n})`,
          );
        for (let i = have; i < n; i++) {
          tokens.push(
            await issuer.mint(
              {
                sub: `u${i}`,
                aud: config.resource,
                email: `qa@bench-${i}.example`,
                email_verified: true,
                scope: 'vault:read',
              },
              { alg: 'ES256' },
            ),
          );
        }
        have = n;
        let next = 0;
        const rotate = async () => call(tokens[next++ % n]!)();
        rows.push(
          await measure(`${n} tenant schema(s), all active`, rotate, { concurrency, durationMs, warmupMs: 1500 }),
        );
      }
      if (have > 1)
        rows.push(
          await measure(`${have} tenant schemas, 1 active`, call(tokens[0]!), {
            concurrency,
            durationMs,
            warmupMs: 1500,
          }),
        );
    } finally {
      await http.close();
    }
    printTable(rows);
    console.log(
      `p50 ratio to 1 tenant: ${rows.map((r) => `${r.name}: ${(r.p50 / rows[0]!.p50).toFixed(2)}`).join('; ')}`,
    );
  } finally {
    await pool.end();
    await issuer.close();
    await db.drop();
  }
}
