import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRateLimiter } from '../../src/http/rate-limit.js';

describe('token bucket rate limiter', () => {
  it('allows the burst, then refuses with the seconds until the next token, and refills at the rate', () => {
    let t = 0;
    const rl = createRateLimiter({ perMinute: 60, burst: 3, now: () => t });
    assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a')], [0, 0, 0]);
    assert.equal(rl.take('a'), 1); // one token per second
    assert.equal(rl.take('b'), 0, 'keys are independent');
    t += 1000;
    assert.equal(rl.take('a'), 0);
    assert.equal(rl.take('a'), 1);
    t += 60_000;
    assert.deepEqual(
      [rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')],
      [0, 0, 0, 1],
      'never more than the burst',
    );
  });

  it('reports a Retry-After of several seconds for slow rates', () => {
    let t = 0;
    const rl = createRateLimiter({ perMinute: 2, burst: 1, now: () => t });
    assert.equal(rl.take('k'), 0);
    assert.equal(rl.take('k'), 30);
    t += 29_000;
    assert.equal(rl.take('k'), 1);
  });

  it('takes several tokens at once (a batch); never more than the burst', () => {
    const rl = createRateLimiter({ perMinute: 60, burst: 5, now: () => 0 });
    assert.equal(rl.take('k', 3), 0);
    assert.equal(rl.take('k', 3), 1, 'two left, one more second for the third');
    assert.equal(rl.take('k', 2), 0, 'a refused take consumes nothing');
    assert.equal(rl.take('k', 9), 5, 'more than the burst: the time to a full bucket');
  });
});
