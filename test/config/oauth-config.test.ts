import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.map((p) => p.split(':')[0]!);
  }
  return [];
};

describe('config: authorization server keys', () => {
  it('off by default; on: issuer = PUBLIC_URL, 15 min access tokens, 30 day refresh, 60 s codes, ES256', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test' }).oauth, undefined);
    const c = loadConfig({ NODE_ENV: 'test', OAUTH_SERVER_ENABLED: 'true', PUBLIC_URL: 'https://mcp.acme.com/' });
    assert.equal(c.oauth?.issuer, 'https://mcp.acme.com');
    assert.equal(c.oauth?.accessTokenTtlSeconds, 900);
    assert.equal(c.oauth?.refreshTokenTtlSeconds, 2_592_000);
    assert.equal(c.oauth?.codeTtlSeconds, 60);
    assert.equal(c.oauth?.signingAlg, 'ES256');
    assert.deepEqual(c.oauth?.cimd, { enabled: true, timeoutMs: 3000, maxBytes: 5120, cacheMaxSeconds: 3600 });
  });

  it('production needs PUBLIC_URL and SECRET_KEY; PUBLIC_URL must be https unless loopback', () => {
    assert.deepEqual(problems({ NODE_ENV: 'production', OAUTH_SERVER_ENABLED: 'true' }).sort(), [
      'PUBLIC_URL',
      'SECRET_KEY',
    ]);
    assert.deepEqual(problems({ NODE_ENV: 'test', OAUTH_SERVER_ENABLED: 'true', PUBLIC_URL: 'http://mcp.acme.com' }), [
      'PUBLIC_URL',
    ]);
    assert.deepEqual(
      problems({ NODE_ENV: 'test', OAUTH_SERVER_ENABLED: 'true', PUBLIC_URL: 'http://127.0.0.1:3000' }),
      [],
    );
  });

  it('codes live at most 60 s; access tokens at most an hour; bad values are named', () => {
    assert.deepEqual(
      problems({
        NODE_ENV: 'test',
        OAUTH_CODE_TTL_SECONDS: '120',
        OAUTH_ACCESS_TOKEN_TTL_SECONDS: '86400',
        OAUTH_SIGNING_ALG: 'HS256',
      }).sort(),
      ['OAUTH_ACCESS_TOKEN_TTL_SECONDS', 'OAUTH_CODE_TTL_SECONDS', 'OAUTH_SIGNING_ALG'],
    );
  });
});
