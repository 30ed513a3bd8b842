/**
 * The full stack against a bare SDK server, side by side at concurrency 32.
 *
 * Servers (each in its own child process, stack-server.ts; the load generator runs here):
 * - `sim`: the Vault simulator every Vault call goes to (its own process, shared by all variants).
 * - `bare`: the SDK's stateless streamable-HTTP example reduced to one static tool — Express,
 *   `express.json()`, a new McpServer + transport per request, JSON responses (as ours).
 * - `bare-vault`: the same bare server, whose `whoami` / `documents_query` make exactly the Vault
 *   query ours make, on one session it logged in for at startup. THE BASELINE FOR THE TARGETS: a
 *   server that calls Vault cannot be cheaper than this, and the simulator's cost cancels out.
 * - `full`: `start()` from src/main.ts (the production wiring): dev OIDC issuer (bearer verified on
 *   every request), tenant `acme` from a TENANTS_FILE (service account on the simulator, session
 *   cached in memory and Postgres), audit on (group commit, awaited before each response), metrics,
 *   the rate limiter (limit out of reach), request logging at `info` into /dev/null.
 *
 * Variants alternate in rounds so machine noise hits all of them; the summary prints the median
 * ratios. Targets (issue 14): throughput ≥ 1.0×, p99 ≤ 1.1× against `bare-vault` doing the same Vault call.
 * The ratio against the static `bare` server is printed too: it includes the simulator call itself.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measure, printTable, type Stats } from './lib.js';
import { BENCH_DOCS_ARGS } from './stack-calls.js';
import type { VariantName } from './stack-server.js';

type ServerName = Exclude<VariantName, 'sim'>;

/** Rows measured each round; `vs` names the row whose work is the same minus our stack (the target baseline). */
const ALL_VARIANTS: { name: string; server: ServerName; tool: string; args: Record<string, unknown>; vs?: string }[] = [
  { name: 'bare SDK, static whoami', server: 'bare', tool: 'whoami', args: {} },
  { name: 'bare SDK + Vault call, whoami', server: 'bare-vault', tool: 'whoami', args: {} },
  { name: 'bare SDK + Vault call, documents', server: 'bare-vault', tool: 'documents_query', args: BENCH_DOCS_ARGS },
  { name: 'full stack, whoami (Vault)', server: 'full', tool: 'whoami', args: {}, vs: 'bare SDK + Vault call, whoami' },
  // The same full stack with every POST /mcp through the SDK's transport (what the fast path replaced).
  {
    name: 'full stack via SDK transport, whoami',
    server: 'full-sdk',
    tool: 'whoami',
    args: {},
    vs: 'bare SDK + Vault call, whoami',
  },
  {
    name: 'full stack, documents_query',
    server: 'full',
    tool: 'documents_query',
    args: BENCH_DOCS_ARGS,
    vs: 'bare SDK + Vault call, documents',
  },
];
// BENCH_VARIANTS=<regex>: measure only the rows whose name matches (e.g. while profiling one path). The
// static row stays: every ratio is printed against it too.
const only = process.env.BENCH_VARIANTS ? new RegExp(process.env.BENCH_VARIANTS) : undefined;
const VARIANTS = ALL_VARIANTS.filter((v, i) => i === 0 || !only || only.test(v.name));
const CONCURRENCY = 32;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function caller(
  url: string,
  token: string | undefined,
  tool: string,
  args: Record<string, unknown>,
): () => Promise<void> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args } });
  return async () => {
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers, body });
    const text = await res.text();
    // A whoami whose Vault lookup failed still answers; the benchmark must not measure failures.
    if (
      res.status !== 200 ||
      !text.includes('"result"') ||
      text.includes('"isError":true') ||
      text.includes('\\"error\\"')
    ) {
      throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
  };
}

async function startServer(variant: VariantName, env: NodeJS.ProcessEnv = process.env) {
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of each server process there (`node --cpu-prof`).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(fileURLToPath(new URL('./stack-server.ts', import.meta.url)), [variant], {
    execArgv: ['--import', 'tsx', ...prof],
    env,
  });
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
  const sim = await startServer('sim');
  const env = { ...process.env, BENCH_SIM_URL: sim.url };
  const servers = new Map<ServerName, Awaited<ReturnType<typeof startServer>>>();
  const rounds: Stats[][] = [];
  /** Server CPU per request, per round and variant (robust to machine noise, unlike throughput). */
  const cpuRounds: number[][] = [];
  try {
    for (const name of new Set(VARIANTS.map((v) => v.server))) servers.set(name, await startServer(name, env));
    for (let r = 0; r < ROUNDS; r++) {
      const row: Stats[] = [];
      const cpu: string[] = [];
      const cpuRow: number[] = [];
      for (const v of VARIANTS) {
        const s = servers.get(v.server)!;
        const call = caller(s.url, s.token, v.tool, v.args);
        await measure('warm-up', call, { concurrency: CONCURRENCY, durationMs: r === 0 ? 1500 : 300, warmupMs: 0 });
        const [before, simBefore] = [await s.cpuMs(), await sim.cpuMs()];
        const stats = await measure(`${v.name} #${r + 1}`, call, {
          concurrency: CONCURRENCY,
          durationMs: DURATION_MS,
          warmupMs: 0,
        });
        const per = (ms: number) => (ms / Math.max(1, stats.requests)).toFixed(3);
        const serverMs = (await s.cpuMs()) - before;
        cpuRow.push(serverMs / Math.max(1, stats.requests));
        cpu.push(`${v.name}: server ${per(serverMs)} ms, simulator ${per((await sim.cpuMs()) - simBefore)} ms`);
        row.push(stats);
      }
      printTable(row);
      console.log(`  CPU per request:\n    ${cpu.join('\n    ')}`);
      rounds.push(row);
      cpuRounds.push(cpuRow);
    }
  } finally {
    for (const [name, s] of servers) {
      const note = await s.close();
      if (note) console.log(`  ${name}: ${note}`);
    }
    console.log(`  sim: ${await sim.close()}`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const ratio = (a: number, b: number) => ({
    thr: median(rounds.map((row) => row[a]!.rps / row[b]!.rps)),
    p99: median(rounds.map((row) => row[a]!.p99 / row[b]!.p99)),
  });
  console.log(`\nconcurrency ${CONCURRENCY}, median of ${ROUNDS} rounds of ${DURATION_MS} ms:`);
  VARIANTS.forEach((v, i) => {
    if (!v.vs || !VARIANTS.some((b) => b.name === v.vs)) return;
    const fair = ratio(
      i,
      VARIANTS.findIndex((b) => b.name === v.vs),
    );
    const vsStatic = ratio(i, 0);
    const b = VARIANTS.findIndex((x) => x.name === v.vs);
    const cpuRatios = cpuRounds.map((r) => r[i]! / r[b]!).sort((x, y) => x - y);
    console.log(
      `${v.name} vs ${v.vs}: throughput ratio ${fair.thr.toFixed(2)} (target ≥ 1.00), p99 ratio ${fair.p99.toFixed(2)} (target ≤ 1.10)` +
        `\n  server CPU per request vs the same: median ${median(cpuRatios).toFixed(2)}, rounds ${cpuRatios.map((x) => x.toFixed(2)).join(', ')}` +
        `\n  (vs ${VARIANTS[0]!.name}, which makes no Vault call: throughput ${vsStatic.thr.toFixed(2)}, p99 ${vsStatic.p99.toFixed(2)})`,
    );
  });
}
