import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { singleFlight } from '../../src/shared/single-flight.js';

describe('singleFlight', () => {
  it('concurrent callers of one key share one call; other keys run their own', async () => {
    const flights = singleFlight<string>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fn = (v: string) => async () => {
      calls++;
      await gate;
      return v;
    };
    const a = Array.from({ length: 100 }, () => flights.run('a', fn('A')));
    const b = flights.run('b', fn('B'));
    assert.ok(flights.pending('a'));
    release();
    assert.deepEqual(new Set(await Promise.all(a)), new Set(['A']));
    assert.equal(await b, 'B');
    assert.equal(calls, 2);
    assert.equal(flights.pending('a'), undefined);
  });

  it('a failure reaches every waiter once, and the next call starts afresh', async () => {
    const flights = singleFlight<number>();
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('down');
    };
    const results = await Promise.allSettled([flights.run('k', failing), flights.run('k', failing)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(calls, 1);
    assert.equal(await flights.run('k', () => Promise.resolve(7)), 7);
  });

  it('a synchronous throw settles the flight instead of leaving it stuck', async () => {
    const flights = singleFlight<number>();
    await assert.rejects(
      flights.run('k', () => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(flights.pending('k'), undefined);
    assert.equal(await flights.run('k', () => Promise.resolve(1)), 1);
  });
});
