/**
 * The opaque-token cache: TTL bounded by the token's expiry, brief negative caching of refusals, no
 * caching of outages, one upstream call for concurrent lookups of the same token.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { cachedIntrospection } from '../../src/auth/opaque-cache.js';
import type { UserContext } from '../../src/auth/types.js';
import { AppError, AuthError } from '../../src/errors/index.js';

const user = (expiresInS: number): UserContext => ({
  subject: 'github:1',
  provider: 'github',
  issuer: 'x',
  email: 'a@acme.com',
  emailVerified: true,
  scopes: ['vault:read'],
  clientId: '',
  expiresAt: Date.now() / 1000 + expiresInS,
});

describe('opaque-token cache', () => {
  it('caches until the token expires, even if the TTL is longer', async () => {
    let calls = 0;
    const verify = cachedIntrospection(async () => (calls++, user(0.15)), { ttlMs: 60_000, negativeTtlMs: 1000 });
    await verify('t');
    await verify('t');
    assert.equal(calls, 1);
    await sleep(200);
    await verify('t');
    assert.equal(calls, 2);
  });

  it('caches refusals briefly and outages not at all', async () => {
    let calls = 0;
    let fail: Error = new AuthError('ERR_AUTH_INVALID_TOKEN', 'bad');
    const verify = cachedIntrospection(
      async () => {
        calls++;
        throw fail;
      },
      { ttlMs: 60_000, negativeTtlMs: 100 },
    );
    await assert.rejects(verify('bad'), AuthError);
    await assert.rejects(verify('bad'), AuthError);
    assert.equal(calls, 1);
    await sleep(150);
    fail = new AppError('ERR_UPSTREAM_UNAVAILABLE', 'down');
    await assert.rejects(verify('bad'), AppError);
    await assert.rejects(verify('bad'), AppError);
    assert.equal(calls, 3);
  });

  it('shares one upstream call between concurrent lookups, and keys by token', async () => {
    let calls = 0;
    const verify = cachedIntrospection(async () => (calls++, await sleep(50), user(3600)), {
      ttlMs: 60_000,
      negativeTtlMs: 1000,
    });
    await Promise.all([verify('a'), verify('a'), verify('a'), verify('b')]);
    assert.equal(calls, 2);
  });
});
