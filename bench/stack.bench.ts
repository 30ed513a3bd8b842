/**
 * The full stack against a bare SDK server, side by side at concurrency 32.
 *
 * - `bare SDK`: the SDK's stateless streamable-HTTP example reduced to one trivial tool — Express,
 *   `express.json()`, a new McpServer + transport per request, JSON responses (as ours).
 * - `bare SDK + shared validator`: the same, reusing one Ajv validator as we do (our true overhead).
 * - `full stack`: `start()` from src/main.ts (the production wiring) with the dev OIDC issuer, one
 *   tenant, audit on (group commit to Postgres, awaited before each response), metrics, the rate
 *   limiter (limit set out of reach), request logging at `info` into /dev/null; calling `whoami`.
 *
 * Each server runs in its own child process (stack-server.ts); the load generator runs here. Every
 * request is a complete `tools/call` with a bearer token, verified every time. Variants alternate in
 * rounds so machine noise hits both; the summary prints the median ratios. Targets: throughput
 * ≥ 0.85×, p99 ≤ 1.3×.
 *
 * Add a variant (e.g. a Vault tool with a cached session against the simulator) in stack-server.ts
 * and to `VARIANTS` below.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measure, printTable, type Stats } from './lib.js';
import type { VariantName } from './stack-server.js';

/** Baselines first (index 0 is the one the targets refer to), then our stack's variants. */
const VARIANTS: { name: string; variant: VariantName; tool: string; baseline?: true }[] = [
  { name: 'bare SDK (stateless, 1 tool)', variant: 'bare', tool: 'whoami', baseline: true },
  { name: 'bare SDK + shared validator', variant: 'bare-shared-ajv', tool: 'whoami', baseline: true },
  { name: 'full stack (auth+tenant+audit)', variant: 'full', tool: 'whoami' },
];
const CONCURRENCY = 32;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function caller(url: string, token: string | undefined, tool: string): () => Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {} } });
  return async () => {
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers, body });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('"result"') || text.includes('"isError":true')) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  };
}

async function startServer(variant: VariantName) {
  const child = fork(fileURLToPath(new URL('./stack-server.ts', import.meta.url)), [variant], { execArgv: ['--import', 'tsx'], env: process.env });
  const ready = await new Promise<{ url: string; token: string | undefined }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; token: string | undefined }));
    child.once('exit', (code) => reject(new Error(`bench server '${variant}' exited with ${code}`)));
  });
  return {
    ...ready,
    /** Server CPU time so far, in ms (user + system). */
    cpuMs: () =>
      new Promise<number>((resolve) => {
        const on = (m: { cpu?: { user: number; system: number } }) => {
          if (!m.cpu) return;
          child.off('message', on);
          resolve((m.cpu.user + m.cpu.system) / 1000);
        };
        child.on('message', on);
        child.send('cpu');
      }),
    close: () =>
      new Promise<string>((resolve) => {
        child.on('message', (m: { closed?: boolean; note?: string }) => m.closed && resolve(m.note ?? ''));
        child.send('close');
      }),
  };
}

export default async function run(): Promise<void> {
  const servers = [];
  for (const v of VARIANTS) servers.push({ ...v, ...(await startServer(v.variant)) });
  const rounds: Stats[][] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const row: Stats[] = [];
      const cpu: string[] = [];
      for (const s of servers) {
        const call = caller(s.url, s.token, s.tool);
        await measure('warm-up', call, { concurrency: CONCURRENCY, durationMs: r === 0 ? 1500 : 300, warmupMs: 0 });
        const before = await s.cpuMs();
        const stats = await measure(`${s.name} #${r + 1}`, call, { concurrency: CONCURRENCY, durationMs: DURATION_MS, warmupMs: 0 });
        cpu.push(`${s.variant} ${(((await s.cpuMs()) - before) / Math.max(1, stats.requests)).toFixed(3)} ms`);
        row.push(stats);
      }
      printTable(row);
      console.log(`  server CPU per request: ${cpu.join(', ')}`);
      rounds.push(row);
    }
  } finally {
    for (const s of servers) {
      const note = await s.close();
      if (note) console.log(`  ${s.name}: ${note}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  VARIANTS.forEach((v, s) => {
    if (v.baseline) return;
    VARIANTS.forEach((b, i) => {
      if (!b.baseline) return;
      const thr = median(rounds.map((row) => row[s]!.rps / row[i]!.rps));
      const p99 = median(rounds.map((row) => row[s]!.p99 / row[i]!.p99));
      console.log(
        `${v.name} vs ${b.name}, concurrency ${CONCURRENCY}, median of ${ROUNDS} rounds: ` +
          `throughput ratio ${thr.toFixed(2)}${i ? '' : ' (target ≥ 0.85)'}, p99 ratio ${p99.toFixed(2)}${i ? '' : ' (target ≤ 1.30)'}`,
      );
    });
  });
}
