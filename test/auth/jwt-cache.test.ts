/**
 * The verified-JWT cache (JWT_CACHE_SECONDS): one signature check per token per TTL, and no way to
 * use it to get a token accepted that a full verification would refuse: an expired token fails even
 * while its entry would still be within the TTL, a token for another resource fails every time,
 * refusals are kept only briefly, and the cache is bounded (least recently used evicted).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createTokenVerifier, type IssuerVerifier } from '../../src/auth/create-verifier.js';
import type { UserContext } from '../../src/auth/types.js';
import { AuthError } from '../../src/errors/index.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const now = () => Math.floor(Date.now() / 1000);

describe('verified-JWT cache over HTTP (attacks)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ JWT_CACHE_SECONDS: '60', CLOCK_SKEW_SECONDS: '0' });
  });
  after(async () => {
    await s?.close();
  });

  it('a cached token fails once it has expired, although the cache TTL (60 s) has not run out', async () => {
    const token = await s.token({ sub: 'shortlived', exp: now() + 2 });
    assert.equal((await postWithToken(s.url, token)).status, 200);
    assert.equal((await postWithToken(s.url, token)).status, 200); // from the cache
    await sleep(2300);
    await assert401(await postWithToken(s.url, token), 'The token has expired (exp)');
  });

  it("a token for a different resource fails, every time, while the same user's token for this resource is cached", async () => {
    const good = await s.token({ sub: 'eve' });
    assert.equal((await postWithToken(s.url, good)).status, 200);
    const other = await s.token({ sub: 'eve', aud: 'https://other.example.com/mcp' });
    for (let i = 0; i < 3; i++) {
      await assert401(
        await postWithToken(s.url, other),
        `The token audience (aud) is not this resource; expected ${s.resource}`,
      );
    }
    assert.equal((await postWithToken(s.url, good)).status, 200);
  });

  it('a token with a tampered payload is not served from the entry of the genuine one', async () => {
    const good = await s.token({ sub: 'frank', scope: 'vault:read' });
    assert.equal((await postWithToken(s.url, good)).status, 200);
    const [h, p, sig] = good.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'vault:read vault:write' })).toString('base64url')}.${sig}`;
    await assert401(await postWithToken(s.url, forged), 'The token signature is invalid');
  });
});

describe('verified-JWT cache (dispatcher)', () => {
  const ISS = 'https://idp.test';
  const counting = (exp: () => number, fail?: (t: string) => boolean) => {
    const calls: string[] = [];
    const v: IssuerVerifier = {
      issuers: [ISS],
      async verify(token) {
        calls.push(token);
        if (fail?.(token)) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token signature is invalid');
        const user: UserContext = {
          subject: `oidc:${ISS}|${token.slice(-4)}`,
          provider: 'oidc',
          issuer: ISS,
          email: undefined,
          emailVerified: false,
          scopes: [],
          clientId: '',
          expiresAt: exp(),
        };
        return user;
      },
    };
    return { v, calls };
  };
  const jwt = (sub: string) =>
    `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISS, sub })).toString('base64url')}.sig-${sub}`;

  it('verifies a token once per TTL, and again after the TTL', async () => {
    const { v, calls } = counting(() => now() + 3600);
    const verifier = createTokenVerifier({
      jwt: [v],
      maxTokenBytes: 8192,
      jwtCache: { ttlMs: 150, negativeTtlMs: 50 },
    });
    for (let i = 0; i < 5; i++) await verifier.verify(jwt('a'));
    assert.equal(calls.length, 1);
    await sleep(200);
    await verifier.verify(jwt('a'));
    assert.equal(calls.length, 2);
  });

  it('never serves an entry past the token expiry', async () => {
    const { v, calls } = counting(() => Date.now() / 1000 + 0.1);
    const verifier = createTokenVerifier({
      jwt: [v],
      maxTokenBytes: 8192,
      jwtCache: { ttlMs: 60_000, negativeTtlMs: 50 },
    });
    await verifier.verify(jwt('b'));
    await sleep(150);
    await verifier.verify(jwt('b'));
    assert.equal(calls.length, 2);
  });

  it('keeps refusals no longer than the negative TTL', async () => {
    let bad = true;
    const { v, calls } = counting(
      () => now() + 3600,
      () => bad,
    );
    const verifier = createTokenVerifier({
      jwt: [v],
      maxTokenBytes: 8192,
      jwtCache: { ttlMs: 60_000, negativeTtlMs: 100 },
    });
    await assert.rejects(verifier.verify(jwt('c')), AuthError);
    await assert.rejects(verifier.verify(jwt('c')), AuthError);
    assert.equal(calls.length, 1);
    bad = false;
    await sleep(150);
    await verifier.verify(jwt('c'));
    assert.equal(calls.length, 2);
  });

  it('is bounded: the least recently used entry is evicted', async () => {
    const { v, calls } = counting(() => now() + 3600);
    const verifier = createTokenVerifier({
      jwt: [v],
      maxTokenBytes: 8192,
      jwtCache: { ttlMs: 60_000, negativeTtlMs: 50, maxEntries: 2 },
    });
    await verifier.verify(jwt('x'));
    await verifier.verify(jwt('y'));
    await verifier.verify(jwt('x')); // x is now the most recent
    await verifier.verify(jwt('z')); // evicts y
    calls.length = 0;
    await verifier.verify(jwt('x'));
    assert.equal(calls.length, 0);
    await verifier.verify(jwt('y'));
    assert.equal(calls.length, 1);
  });

  it('without jwtCache every JWT is verified in full', async () => {
    const { v, calls } = counting(() => now() + 3600);
    const verifier = createTokenVerifier({ jwt: [v], maxTokenBytes: 8192 });
    for (let i = 0; i < 3; i++) await verifier.verify(jwt('d'));
    assert.equal(calls.length, 3);
  });
});
