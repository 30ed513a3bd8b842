import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

describe('config: operations keys', () => {
  it('defaults: audit batch 256, linger 0, rate limit 1200/min burst 200, metrics loopback-only', () => {
    const c = loadConfig({ NODE_ENV: 'test' });
    assert.deepEqual(c.audit, { batchMax: 256, lingerMs: 0 });
    assert.deepEqual(c.rateLimit, { perMinute: 1200, burst: 200 });
    assert.equal(c.metrics.token, undefined);
  });

  it('reports every bad key at once, naming it', () => {
    try {
      loadConfig({
        NODE_ENV: 'test',
        AUDIT_BATCH_MAX: '0',
        AUDIT_LINGER_MS: '1000',
        METRICS_TOKEN: 'short',
        RATE_LIMIT_PER_MINUTE: '-1',
        RATE_LIMIT_BURST: 'x',
      });
      assert.fail('expected a ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      const keys = e.problems.map((p) => p.split(':')[0]);
      assert.deepEqual(keys.sort(), [
        'AUDIT_BATCH_MAX',
        'AUDIT_LINGER_MS',
        'METRICS_TOKEN',
        'RATE_LIMIT_BURST',
        'RATE_LIMIT_PER_MINUTE',
      ]);
    }
  });

  it('RATE_LIMIT_PER_MINUTE=0 disables the limiter', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test', RATE_LIMIT_PER_MINUTE: '0' }).rateLimit.perMinute, 0);
  });

  it('JWT_CACHE_SECONDS: 60 by default, 0 turns it off, more than 60 is refused by name', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test' }).auth.jwtCacheSeconds, 60);
    assert.equal(loadConfig({ NODE_ENV: 'test', JWT_CACHE_SECONDS: '0' }).auth.jwtCacheSeconds, 0);
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', JWT_CACHE_SECONDS: '61' }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('JWT_CACHE_SECONDS')),
    );
  });
});
