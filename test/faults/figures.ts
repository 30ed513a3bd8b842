/**
 * The fault suite prints what happened under load, so a CI log shows more than "ok": calls, outcomes
 * by code, audit rows, recovery time. Each figure becomes one diagnostic line of the test.
 */
import type { TestContext } from 'node:test';

export type Figures = Record<string, string | number | Record<string, number>>;

/** Tally `xs` by value: `{ ok: 40, ERR_DB_UNAVAILABLE: 12 }`. */
export function tally(xs: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/**
 * @example
 * report(t, 'postgres restart', { calls: 120, outcomes: { ok: 100, ERR_DB_UNAVAILABLE: 20 }, recoveryMs: 850 });
 */
export function report(t: TestContext, title: string, figures: Figures): void {
  const fmt = (v: Figures[string]) =>
    typeof v === 'object'
      ? Object.entries(v)
          .map(([k, n]) => `${k}=${n}`)
          .join(' ')
      : String(v);
  t.diagnostic(
    `[faults] ${title}: ${Object.entries(figures)
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join(' | ')}`,
  );
}
