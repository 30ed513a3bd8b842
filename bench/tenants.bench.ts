/**
 * Tool-call latency as the number of tenant schemas grows, side by side: two servers in this process,
 * each on its own database — `one` holds a single tenant, `many` grows to 100, 1,000 and 5,000 tenant
 * schemas — measured in alternating rounds (so machine noise hits both) and printed as ratios of the
 * median p50 to the single-tenant server's.
 *
 * Each call is a real MCP `tools/call` over HTTP: bearer verification, tenant resolution (cached, as in
 * production), then a tool that reads the caller's tenant tables through withTenant (BEGIN + search_path
 * + SET LOCAL ROLE in one round trip, two SELECTs, COMMIT). Callers rotate over the active tenants, so
 * each pooled connection touches many schemas. Rows:
 * - `N schemas, all active` up to 1,000 (target at 1,000: p50 ≤ 1.10× one tenant);
 * - `5,000 schemas, 100 active` (target: p50 ≤ 1.05×): catalog size without a larger working set.
 * Before measuring, every active tenant is called `BENCH_WARM_PASSES` times (default 20, about twice
 * per pooled connection): the steady state of active tenants, not the first touches of a schema by a
 * backend (each costs catalog reads once per connection; that cold first pass is printed too).
 *
 * Env: BENCH_TENANTS (default "1,100,1000,5000"; "1,100,1000" with BENCH_QUICK=1), BENCH_DURATION_MS
 * (default 2000 per round), BENCH_ROUNDS (3), BENCH_CONCURRENCY (8). Provisioning runs 50 tenants per
 * transaction, two transactions at a time.
 */
import { readFileSync } from 'node:fs';
import { createOidcVerifier } from '../src/auth/oidc-verifier.js';
import { createTokenVerifier } from '../src/auth/create-verifier.js';
import { loadConfig } from '../src/config/index.js';
import { loadMigrations, migrate, type Migrations } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { withTenant } from '../src/db/with-tenant.js';
import { startDevIssuer, type DevIssuer } from '../src/dev/issuer.js';
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

/**
 * Sum of user+system CPU of the Postgres backends serving `pool`'s database, read from /proc (the
 * benchmark's Postgres runs on this machine): robust to the noise of a shared machine, unlike latency.
 */
async function backendCpuMs(pool: Pool): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, ((Number(f[11]) + Number(f[12])) * 1000) / 100); // USER_HZ is 100 on Linux
    } catch {
      // not on this machine, or the backend just exited
    }
  }
  return out;
}

/** CPU used between two snapshots by the backends present in both (pooled connections persist under load). */
function cpuDelta(a: Map<number, number>, b: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of b) if (a.has(pid)) ms += t - a.get(pid)!;
  return a.size ? ms : NaN;
}

/** One server on its own database: the tenant tool, bearer verification, cached tenant resolution. */
async function startSide(issuer: DevIssuer, m: Migrations) {
  const db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    OIDC_ISSUER: issuer.issuer,
    PORT: '0',
    LOG_LEVEL: 'silent',
  });
  const pool = createPool({ url: db.url, max: 10, statementTimeoutMs: 120_000 });
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
    readiness: () => Promise.resolve({ ready: true }),
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
  return {
    tokens,
    /** CPU time (ms) of this database's Postgres backends so far (same machine only; else NaN). */
    pgCpuMs: () => backendCpuMs(pool),
    /** Provision tenants up to `n` (50 per transaction, two transactions at a time) and mint their tokens. */
    async grow(n: number) {
      const have = tokens.length;
      const batches: number[] = [];
      for (let i = have; i < n; i += 50) batches.push(i);
      const worker = async () => {
        for (let i = batches.shift(); i !== undefined; i = batches.shift())
          await provisionTenants(
            pool,
            Array.from({ length: Math.min(50, n - i) }, (_, k) => input(i + k)),
            deps,
          );
      };
      await Promise.all([worker(), worker()]);
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
    },
    /** Calls rotating over the first `active` tenants. */
    rotating(active: number) {
      let next = 0;
      return () => call(tokens[next++ % active]!)();
    },
    async close() {
      await http.close();
      await pool.end();
      await db.drop();
    },
  };
}

export default async function run(): Promise<void> {
  const counts = (process.env.BENCH_TENANTS ?? (process.env.BENCH_QUICK ? '1,100,1000' : '1,100,1000,5000'))
    .split(',')
    .map(Number)
    .filter((n) => n > 1)
    .sort((a, b) => a - b);
  const durationMs = Number(process.env.BENCH_DURATION_MS ?? 2000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
  const warmPasses = Number(process.env.BENCH_WARM_PASSES ?? 20);
  const issuer = await startDevIssuer();
  const m = await loadMigrations();
  const one = await startSide(issuer, m);
  const many = await startSide(issuer, m);
  const summary: string[] = [];
  try {
    await one.grow(1);
    /** `calls` calls at the bench's concurrency; returns their p50 in ms. */
    const warm = async (fn: () => Promise<void>, calls: number) => {
      let left = calls;
      const lat: number[] = [];
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (left-- > 0) {
            const t = performance.now();
            await fn();
            lat.push(performance.now() - t);
          }
        }),
      );
      return lat.sort((a, b) => a - b)[Math.floor(lat.length / 2)]!;
    };
    await warm(one.rotating(1), 2000);
    for (const n of counts) {
      const t0 = performance.now();
      await many.grow(n);
      console.log(`provisioned ${n} tenant schemas in ${((performance.now() - t0) / 1000).toFixed(1)} s (total)`);
      // All active up to 1,000 schemas; beyond, 100 active (the 5,000-provisioned target).
      const actives = n > 1000 ? [100] : [n];
      for (const active of actives) {
        // The first pass after provisioning: a schema's first calls on each pooled connection read the
        // catalog (and provisioning's DDL reset every backend's caches). Printed, not a target.
        const t1 = performance.now();
        const coldP50 = await warm(many.rotating(active), active);
        // At least 5,000 calls: after thousands of new schemas every backend's caches were reset.
        await warm(many.rotating(active), Math.max(5000, warmPasses * active));
        const warmS = ((performance.now() - t1) / 1000).toFixed(1);
        const rows: Stats[][] = [];
        const cpu: [number, number][] = [];
        const timed = async (side: typeof one, name: string, act: number) => {
          // Warm first (idle connections may have closed meanwhile), then snapshot the backends' CPU.
          await warm(side.rotating(act), concurrency * 20);
          const c0 = await side.pgCpuMs();
          const st = await measure(name, side.rotating(act), { concurrency, durationMs, warmupMs: 0 });
          return { st, cpu: cpuDelta(c0, await side.pgCpuMs()) / st.requests };
        };
        for (let r = 0; r < rounds; r++) {
          const a = await timed(one, `1 tenant schema #${r + 1}`, 1);
          const b = await timed(many, `${n} schemas, ${active === n ? 'all' : active} active #${r + 1}`, active);
          rows.push([a.st, b.st]);
          cpu.push([a.cpu, b.cpu]);
        }
        printTable(rows.flat());
        console.log(
          `  Postgres CPU per call, ms (1 tenant / ${n} schemas): ${cpu.map(([a, b]) => `${a.toFixed(3)} / ${b.toFixed(3)}`).join('; ')}`,
        );
        const ratios = rows.map(([a, b]) => b!.p50 / a!.p50).sort((x, y) => x - y);
        const median = ratios[Math.floor(ratios.length / 2)]!;
        const target = active === n ? (n === 1000 ? ' (target ≤ 1.10)' : '') : n >= 5000 ? ' (target ≤ 1.05)' : '';
        const line = `${n} schemas, ${active === n ? 'all' : active} active: p50 ratio to 1 tenant, median ${median.toFixed(2)}${target}, rounds ${ratios.map((x) => x.toFixed(2)).join(', ')} (warm-up ${warmS} s; first pass p50 ${coldP50.toFixed(2)} ms)`;
        console.log(line);
        summary.push(line);
      }
    }
  } finally {
    await one.close();
    await many.close();
    await issuer.close();
  }
  console.log(
    `\nsummary, concurrency ${concurrency}, ${rounds} alternating rounds of ${durationMs} ms:\n  ${summary.join('\n  ')}`,
  );
}
