/**
 * The synced counter's decisions against a fixed-window store kept here (the store's own behaviour is
 * tested with real Redis and Postgres in rate-limit-shared.test.ts): far from the limit requests are
 * decided locally and reach the store in batches; near it every request asks the store; N replicas
 * overshoot the budget by a bounded amount; nothing let through is lost when the store fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyncedCounter, type StoreCount } from '../../src/http/rate-limit-sync.js';

/** A fixed-window counter like rate-limiter-flexible's stores: it counts every increment, even over the limit. */
function fixedWindowStore(windowMs: number, clock: { t: number }) {
  const windows = new Map<string, { count: number; endsAt: number }>();
  let calls = 0;
  let failing = false;
  return {
    get calls() {
      return calls;
    },
    set failing(v: boolean) {
      failing = v;
    },
    count: (key: string) => windows.get(key)?.count ?? 0,
    increment: async (key: string, n: number): Promise<StoreCount> => {
      calls++;
      await new Promise((r) => setImmediate(r)); // an answer takes a turn of the event loop, as over a socket
      if (failing) throw new Error('store down');
      let w = windows.get(key);
      if (!w || clock.t >= w.endsAt) windows.set(key, (w = { count: 0, endsAt: clock.t + windowMs }));
      w.count += n;
      return { consumed: w.count, msBeforeNext: w.endsAt - clock.t };
    },
  };
}

const takeAll = async (c: { take(k: string, n: number): number | Promise<number> }, key: string, n: number) => {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await c.take(key, 1)) === 0) allowed++;
  return allowed;
};

describe('synced rate-limit counter', () => {
  it('far from the limit: 1,000 requests decided with a handful of store calls, and all of them counted', async () => {
    const clock = { t: 0 };
    const store = fixedWindowStore(60_000, clock);
    const counter = createSyncedCounter({
      points: 100_000,
      syncMs: 100,
      increment: store.increment,
      now: () => clock.t,
    });
    assert.equal(await takeAll(counter, 't:acme', 1000), 1000);
    assert.ok(store.calls <= 20, `${store.calls} store calls for 1,000 requests`);
    await counter.flush();
    assert.equal(store.count('t:acme'), 1000, 'every request reached the store count');
  });

  it('near the limit every request asks the store: one replica lets exactly the budget through', async () => {
    const clock = { t: 0 };
    const store = fixedWindowStore(10_000, clock);
    const counter = createSyncedCounter({ points: 200, syncMs: 100, increment: store.increment, now: () => clock.t });
    assert.equal(await takeAll(counter, 't:acme', 260), 200);
    const callsAtLimit = store.calls;
    assert.ok(callsAtLimit < 200, `${callsAtLimit} store calls`);
    assert.equal(await takeAll(counter, 't:acme', 50), 0, 'over the limit: refused');
    assert.equal(store.calls, callsAtLimit, 'refused locally until the window ends, no store call');
    clock.t += 10_000;
    assert.equal(await takeAll(counter, 't:acme', 1), 1, 'a new window: allowed again');
  });

  it('four replicas taking concurrently overshoot the shared budget by at most a few percent', async () => {
    const clock = { t: 0 };
    const store = fixedWindowStore(10_000, clock);
    const replicas = Array.from({ length: 4 }, () =>
      createSyncedCounter({ points: 200, syncMs: 100, increment: store.increment, now: () => clock.t }),
    );
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) => Promise.resolve(replicas[i % 4]!.take('t:acme', 1))),
    );
    const allowed = results.filter((w) => w === 0).length;
    assert.ok(allowed >= 200 && allowed <= 210, `${allowed} of 600 allowed for a budget of 200`);
    assert.ok(
      results.filter((w) => w > 0).every((w) => w === 10),
      'refusals name the time to the window end',
    );
  });

  it('syncMs 0: every request asks the store', async () => {
    const clock = { t: 0 };
    const store = fixedWindowStore(60_000, clock);
    const counter = createSyncedCounter({ points: 100_000, syncMs: 0, increment: store.increment, now: () => clock.t });
    await takeAll(counter, 't:acme', 50);
    assert.equal(store.calls, 50);
  });

  it('a failed sync keeps what it owed: requests let through before an outage count after it', async () => {
    const clock = { t: 0 };
    const store = fixedWindowStore(60_000, clock);
    const errors: unknown[] = [];
    const counter = createSyncedCounter({
      points: 1000,
      syncMs: 100,
      increment: store.increment,
      now: () => clock.t,
      onSyncError: (e) => errors.push(e),
    });
    assert.equal(await takeAll(counter, 't:acme', 1), 1); // learns the window
    store.failing = true;
    assert.equal(counter.take('t:acme', 1), 0, 'decided locally');
    await new Promise((r) => setTimeout(r, 150)); // the background sync fails
    assert.ok(errors.length >= 1);
    await assert.rejects(Promise.resolve(counter.take('t:acme', 1)), /store down/, 'window unknown: asks the store');
    store.failing = false;
    assert.equal(await counter.take('t:acme', 1), 0);
    assert.equal(store.count('t:acme'), 3, 'the first, the one let through during the outage, and the last');
  });
});
