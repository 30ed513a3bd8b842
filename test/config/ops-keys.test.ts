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

describe('config: HTTP edge keys', () => {
  it('defaults: 1 MiB bodies read within 10 s, headers 10 s, requests 30 s, keep-alive 65 s, 256 connections per client, store auto', () => {
    const c = loadConfig({ NODE_ENV: 'test' });
    assert.deepEqual(c.httpEdge, {
      bodyLimitBytes: 1_048_576,
      bodyTimeoutMs: 10_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      maxConnectionsPerClient: 256,
      metricsPort: undefined,
      rateLimitStore: {
        kind: 'postgres',
        redisUrl: undefined,
        keyPrefix: 'vault-mcp:rl',
        timeoutMs: 250,
        syncMs: 100,
      },
    });
    const r = loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://127.0.0.1:6379', METRICS_PORT: '9464' });
    assert.equal(r.httpEdge.rateLimitStore.kind, 'redis', 'REDIS_URL selects Redis');
    assert.equal(r.httpEdge.metricsPort, 9464);
    assert.equal(
      loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://x', RATE_LIMIT_STORE: 'memory' }).httpEdge.rateLimitStore.kind,
      'memory',
    );
  });

  it('refuses inconsistent timeouts, a Redis store without REDIS_URL, METRICS_PORT = PORT, naming each key', () => {
    try {
      loadConfig({
        NODE_ENV: 'test',
        HTTP_HEADERS_TIMEOUT_MS: '20000',
        HTTP_BODY_TIMEOUT_MS: '40000',
        HTTP_REQUEST_TIMEOUT_MS: '15000',
        RATE_LIMIT_STORE: 'redis',
        PORT: '3000',
        METRICS_PORT: '3000',
        REDIS_URL: undefined,
      });
      assert.fail('expected a ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => p.split(':')[0]).sort(), [
        'HTTP_BODY_TIMEOUT_MS',
        'HTTP_HEADERS_TIMEOUT_MS',
        'METRICS_PORT',
        'RATE_LIMIT_STORE',
      ]);
    }
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', REDIS_URL: 'http://x' }),
      (e: unknown) => e instanceof ConfigError && e.problems[0]!.startsWith('REDIS_URL: must be a redis://'),
    );
  });
});
