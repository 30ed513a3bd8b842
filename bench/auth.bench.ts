/**
 * Cost of token verification, side by side in one run at concurrency 32:
 * - `no auth`: the same app and MCP `whoami` call, but with a verifier that returns a fixed user
 *   without looking at the token (the unauthenticated baseline: everything except verification);
 * - `RS256` / `ES256`: the real server (`start()` wiring) with the dev issuer's JWKS cached;
 * - `API key`: the real server, the key's row cached while the LISTEN connection is up (evicted on
 *   every replica by NOTIFY when the key changes), `last_used_at` written off the request path;
 * - `/healthz` for scale, and `verify() only` (no HTTP) for the raw verification rate.
 * Ratios are against `no auth`; the API-key path is also compared with the RS256 JWT path
 * (target ≥ 0.95×).
 */
import { loadConfig } from '../src/config/index.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { createOidcVerifier } from '../src/auth/oidc-verifier.js';
import type { UserContext } from '../src/auth/types.js';
import { createPool } from '../src/db/pool.js';
import { parseSchemaName } from '../src/db/schema-name.js';
import { createApp } from '../src/http/app.js';
import { listen } from '../src/http/listen.js';
import { createLogger } from '../src/log/index.js';
import { whoami } from '../src/mcp/tools/whoami.js';
import type { Tenant } from '../src/tenancy/tenant.js';
import { freePort, startTestServer } from '../test/helpers/server.js';
import { measure, printTable, type Stats } from './lib.js';

const OPTS = { concurrency: 32, durationMs: Number(process.env.BENCH_DURATION_MS ?? 1500), warmupMs: 300 };
/** Variants alternate in rounds so machine noise (other processes, JIT warm-up) hits all of them. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });

function caller(url: string, token: string): () => Promise<void> {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
  };
  return async () => {
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers, body: BODY });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('"result"')) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  };
}

export default async function bench(): Promise<void> {
  // The rate limiter is off: this measures token verification, not the per-tenant limit.
  const s = await startTestServer({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0' });
  const pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
  const port = await freePort();
  const config = loadConfig({ NODE_ENV: 'test', PORT: String(port), LOG_LEVEL: 'silent' });
  const tenant: Tenant = {
    id: 'acme',
    name: 'Acme',
    schema: parseSchemaName('t_0123456789abcdef0123456789abcdef'),
    vault: {
      url: 'https://acme.veevavault.com',
      apiVersion: 'v25.2',
      auth: { mode: 'service_account', username: 'bot@acme.com' },
    },
  };
  const fixed: UserContext = {
    subject: 'bench',
    provider: 'oidc',
    issuer: 'bench',
    email: 'bench@acme.com',
    emailVerified: true,
    scopes: ['vault:read'],
    clientId: 'bench',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  };
  const bare = await listen(
    createApp({
      config,
      log: createLogger({ level: 'silent' }),
      verifier: { verify: () => Promise.resolve(fixed) },
      tools: [whoami],
      authorizationServers: [],
      resolveTenant: () => Promise.resolve(tenant),
      readiness: () => Promise.resolve({ ready: true }),
    }),
    { port, host: '127.0.0.1' },
  );
  try {
    // The test server may already know 'acme' (from its tenants file); the key just needs the row.
    await pool.query(
      "INSERT INTO control.tenants (id, schema_name, vault) VALUES ('acme', 't_0123456789abcdef0123456789abcdef', $1) ON CONFLICT (id) DO NOTHING",
      [tenant.vault],
    );
    const { key } = await createApiKey(pool, { tenantId: 'acme', name: 'bench', scopes: ['vault:read'] });
    const rs = await s.token({ sub: 'bench' });
    const es = await s.token({ sub: 'bench' }, { alg: 'ES256' });
    const v = createOidcVerifier({
      issuer: s.issuer.issuer,
      audience: s.resource,
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 60,
    });
    await v.verify(rs);

    const variants: [string, () => Promise<void>][] = [
      ['no auth (fixed user), whoami', caller(bare.url, 'x')],
      ['RS256 JWT (cached JWKS), whoami', caller(s.url, rs)],
      ['ES256 JWT (cached JWKS), whoami', caller(s.url, es)],
      ['API key (cached, NOTIFY), whoami', caller(s.url, key)],
      ['GET /healthz', async () => void (await (await fetch(`${s.url}/healthz`)).text())],
      ['RS256 verify() only, no HTTP', async () => void (await v.verify(rs))],
    ];
    for (const [, fn] of variants) await fn(); // first use fetches the keys once
    const fetchesBefore = s.issuer.jwksFetches();
    const runs = new Map<string, Stats[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, fn] of variants) runs.set(name, [...(runs.get(name) ?? []), await measure(name, fn, OPTS)]);
    }
    // Same-round ratio of the API-key path to the JWT path (before the rounds are sorted below).
    const keyVsJwt = Array.from(
      { length: ROUNDS },
      (_, r) => runs.get(variants[3]![0])![r]!.rps / runs.get(variants[1]![0])![r]!.rps,
    ).sort((x, y) => x - y);
    // Per variant, the round with the median throughput.
    const rows = variants.map(([name]) => runs.get(name)!.sort((a, b) => a.rps - b.rps)[Math.floor(ROUNDS / 2)]!);
    printTable(rows, rows[0]);
    console.log(
      `API key vs RS256 JWT throughput, same round (target ≥ 0.95): median ${keyVsJwt[Math.floor(ROUNDS / 2)]!.toFixed(2)}, range ${keyVsJwt[0]!.toFixed(2)}–${keyVsJwt.at(-1)!.toFixed(2)}`,
    );
    console.log(
      `JWKS fetches during the run: ${s.issuer.jwksFetches() - fetchesBefore} (keys fetched once at first use, then cached)`,
    );
  } finally {
    await bare.close(100);
    await pool.end();
    await s.close();
  }
}
