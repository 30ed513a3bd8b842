/**
 * Tiny load generator shared by the benchmarks: `concurrency` workers call `fn` back to back for
 * `durationMs` (after a warm-up), and we report throughput and latency percentiles. Benchmarks compare
 * variants measured side by side in the same run and print ratios, so machine speed cancels out.
 */
export interface Stats {
  name: string;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

export async function measure(
  name: string,
  fn: () => Promise<void>,
  opts: { concurrency?: number; durationMs?: number; warmupMs?: number } = {},
): Promise<Stats> {
  const concurrency = opts.concurrency ?? 32;
  const run = async (ms: number, record: boolean) => {
    const lat: number[] = [];
    let errors = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          try {
            await fn();
            if (record) lat.push(performance.now() - t);
          } catch {
            errors++;
          }
        }
      }),
    );
    return { lat, errors };
  };
  await run(opts.warmupMs ?? 500, false);
  const t0 = performance.now();
  const { lat, errors } = await run(opts.durationMs ?? 3000, true);
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  return { name, requests: lat.length, errors, rps: lat.length / secs, p50: pct(50), p99: pct(99) };
}

export function printTable(rows: Stats[], baseline?: Stats): void {
  const b = baseline ?? rows[0];
  console.log(
    [
      'variant'.padEnd(34),
      'req/s'.padStart(9),
      'p50 ms'.padStart(8),
      'p99 ms'.padStart(8),
      'errors'.padStart(7),
      'thr ratio'.padStart(10),
      'p99 ratio'.padStart(10),
    ].join(' '),
  );
  for (const r of rows) {
    console.log(
      [
        r.name.padEnd(34),
        r.rps.toFixed(0).padStart(9),
        r.p50.toFixed(2).padStart(8),
        r.p99.toFixed(2).padStart(8),
        String(r.errors).padStart(7),
        b ? (r.rps / b.rps).toFixed(2).padStart(10) : '',
        b ? (r.p99 / b.p99).toFixed(2).padStart(10) : '',
      ].join(' '),
    );
  }
}
