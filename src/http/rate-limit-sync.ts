/**
 * A shared fixed-window counter that does not ask the store on every request. Each replica keeps, per
 * key, the store's count as it last saw it and decides locally while it is far from the limit; the
 * requests it let through are sent to the store as one increment, at the latest `syncMs` later.
 *
 * The local allowance is bounded, so N replicas cannot overshoot the budget by much:
 * - between two syncs a replica lets through at most a quarter of what it last saw remaining, and at
 *   most a tenth of the window's points; near the limit (and for budgets under 10) that is 0 and every
 *   request asks the store;
 * - it asks the store at once when half its allowance is spent, and first thing in each new window;
 * - a key the store reported over the limit is refused locally until the window ends (no store call).
 * `syncMs = 0` asks the store on every request (exact, one round trip each).
 *
 * Store failures are the caller's (rate-limit-shared.ts falls back to the in-process bucket): a failed
 * sync forgets what this replica knew of the key, so its next request asks the store again, and keeps
 * the increment owed, so requests let through before an outage still count after it.
 *
 * @module
 */
import { LRUCache } from 'lru-cache';

/** What the store answers to an increment: its count in the window after it, and the time to the window's end. */
export interface StoreCount {
  consumed: number;
  msBeforeNext: number;
}

interface KeyState {
  /** The store's count in the current window, as last seen (including our synced increments). */
  known: number;
  /** Points let through locally since and not yet sent. */
  pending: number;
  /** When the current window ends (0: unknown, ask the store). */
  resetAt: number;
  flushing: boolean;
}

/** Of what a replica saw remaining, the share it may spend between syncs (other replicas spend too). */
const SHARE = 4;
/** At most this fraction of the window's points is ever let through unsynced by one replica. */
const MAX_FRACTION = 0.1;

/**
 * @example
 * const counter = createSyncedCounter({ points: 200, syncMs: 100, increment: (key, n) => store.add(key, n) });
 * const wait = await counter.take('t:acme', 1); // 0, or seconds until the window ends
 */
export function createSyncedCounter(opts: {
  points: number;
  syncMs: number;
  /** Add `n` to `key` in the store; rejects when the store failed or did not answer in time. */
  increment(key: string, n: number): Promise<StoreCount>;
  /** A background sync failed (no request waits on it). */
  onSyncError?(e: unknown): void;
  now?: () => number;
  maxKeys?: number;
}): { take(key: string, count: number): number | Promise<number>; flush(): Promise<void> } {
  const now = opts.now ?? Date.now;
  // Budgets under 10 points per window are always exact.
  const cap = opts.syncMs > 0 ? Math.floor(opts.points * MAX_FRACTION) : 0;
  const states = new LRUCache<string, KeyState>({ max: opts.maxKeys ?? 100_000 });
  /** Keys with pending points, so a sync tick visits only those. */
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  const waitFor = (s: KeyState, t: number) => Math.max(1, Math.ceil((s.resetAt - t) / 1000));

  const learn = (s: KeyState, res: StoreCount) => {
    const t = now();
    const resetAt = t + res.msBeforeNext;
    // Answers may arrive out of order: within one window the count only grows.
    s.known = t < s.resetAt && resetAt <= s.resetAt + 1000 ? Math.max(s.known, res.consumed) : res.consumed;
    s.resetAt = resetAt;
  };

  const send = (key: string, s: KeyState) => {
    if (s.flushing || s.pending === 0) return;
    const n = s.pending;
    s.pending = 0;
    s.flushing = true;
    opts.increment(key, n).then(
      (res) => {
        s.flushing = false;
        learn(s, res);
        if (s.pending > 0) schedule(key);
      },
      (e: unknown) => {
        s.flushing = false;
        s.pending += n; // not lost: sent with the next sync that reaches the store
        dirty.add(key);
        s.resetAt = 0; // unknown again: the next request asks the store (and meets its failure itself)
        opts.onSyncError?.(e);
      },
    );
  };

  function schedule(key: string) {
    dirty.add(key);
    timer ??= setTimeout(() => {
      timer = undefined;
      for (const k of dirty) {
        const s = states.get(k);
        if (s) send(k, s);
      }
      dirty.clear();
    }, opts.syncMs).unref();
  }

  async function sync(key: string, s: KeyState, count: number): Promise<number> {
    const n = s.pending + count;
    s.pending = 0;
    let res: StoreCount;
    try {
      res = await opts.increment(key, n);
    } catch (e) {
      // This request is decided elsewhere (the caller's fallback); the earlier ones stay owed to the store.
      s.pending += n - count;
      s.resetAt = 0;
      throw e;
    }
    learn(s, res);
    return res.consumed > opts.points ? waitFor(s, now()) : 0;
  }

  return {
    take(key, count) {
      const t = now();
      let s = states.get(key);
      if (!s) states.set(key, (s = { known: 0, pending: 0, resetAt: 0, flushing: false }));
      if (t < s.resetAt) {
        if (s.known >= opts.points) return waitFor(s, t);
        const allowance = Math.min(cap, Math.floor((opts.points - s.known) / SHARE));
        if (s.pending + count <= allowance) {
          s.pending += count;
          if (s.pending * 2 >= allowance) send(key, s);
          else schedule(key);
          return 0;
        }
      }
      return sync(key, s, count);
    },
    /** Send every pending increment now (on shutdown), and wait for the answers. */
    async flush() {
      clearTimeout(timer);
      timer = undefined;
      await Promise.all(
        [...states.entries()]
          .filter(([, s]) => s.pending > 0)
          .map(([key, s]) => {
            const n = s.pending;
            s.pending = 0;
            return opts.increment(key, n).then(
              () => undefined,
              (e: unknown) => opts.onSyncError?.(e),
            );
          }),
      );
    },
  };
}
