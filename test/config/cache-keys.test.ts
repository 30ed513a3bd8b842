import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

describe('config: cache keys (issue 14)', () => {
  it('defaults: API keys cached 30 s while listening, last use written every 60 s, caps of 10,000', () => {
    const c = loadConfig({ NODE_ENV: 'test' });
    assert.deepEqual(c.cache, {
      apiKeySeconds: 30,
      apiKeyLastUsedSeconds: 60,
      listenUrl: undefined,
      identityMax: 10_000,
      vaultSessionMax: 10_000,
      tenantMax: 10_000,
    });
  });

  it('takes a direct LISTEN URL and turns the API-key cache off with 0', () => {
    const c = loadConfig({
      NODE_ENV: 'test',
      DB_LISTEN_URL: 'postgres://u@db-direct:5432/app',
      API_KEY_CACHE_SECONDS: '0',
      IDENTITY_CACHE_MAX: '500',
    });
    assert.equal(c.cache.listenUrl, 'postgres://u@db-direct:5432/app');
    assert.equal(c.cache.apiKeySeconds, 0);
    assert.equal(c.cache.identityMax, 500);
  });

  it('refuses a TTL beyond 5 minutes, caps that are too small and a LISTEN URL that is not Postgres, naming each key', () => {
    try {
      loadConfig({
        NODE_ENV: 'test',
        API_KEY_CACHE_SECONDS: '301',
        API_KEY_LAST_USED_SECONDS: '0',
        DB_LISTEN_URL: 'mysql://x',
        IDENTITY_CACHE_MAX: '10',
        VAULT_SESSION_CACHE_MAX: '1',
        TENANT_CACHE_MAX: 'lots',
      });
      assert.fail('expected a ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => p.split(':')[0]).sort(), [
        'API_KEY_CACHE_SECONDS',
        'API_KEY_LAST_USED_SECONDS',
        'DB_LISTEN_URL',
        'IDENTITY_CACHE_MAX',
        'TENANT_CACHE_MAX',
        'VAULT_SESSION_CACHE_MAX',
      ]);
    }
  });
});
