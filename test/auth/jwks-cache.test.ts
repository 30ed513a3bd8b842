/**
 * JWKS caching and outage behaviour, against the dev issuer over real HTTP: cached keys, one refetch
 * per cooldown on unknown kids, rotation, stale keys served while the endpoint is down, cold start
 * down fails closed with 503 naming the provider.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createOidcVerifier } from '../../src/auth/oidc-verifier.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { AppError, AuthError } from '../../src/errors/index.js';
import { postWithToken } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

const AUD = 'http://127.0.0.1:9/mcp';

describe('JWKS cache', () => {
  let issuer: DevIssuer;
  before(async () => {
    issuer = await startDevIssuer();
  });
  after(async () => {
    await issuer?.close();
  });

  const verifier = (o: { cooldownMs: number; maxAgeMs?: number; jwksUri?: string }) =>
    createOidcVerifier({
      issuer: issuer.issuer,
      audience: AUD,
      jwksUri: o.jwksUri,
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 0,
      jwksCooldownMs: o.cooldownMs,
      jwksMaxAgeMs: o.maxAgeMs,
    });
  const mint = (header?: Record<string, unknown>) => issuer.mint({ sub: 'u', aud: AUD }, header ? { header } : {});

  it('fetches the keys once and reuses them', async () => {
    const v = verifier({ cooldownMs: 60_000 });
    const before = issuer.jwksFetches();
    for (let i = 0; i < 5; i++) assert.equal((await v.verify(await mint())).subject, `oidc:${issuer.issuer}|u`);
    await Promise.all([
      v.verify(await mint({ alg: 'RS256' })),
      v.verify(await issuer.mint({ sub: 'u', aud: AUD }, { alg: 'ES256' })),
    ]);
    assert.equal(issuer.jwksFetches() - before, 1);
  });

  it('refetches on an unknown kid at most once per cooldown', async () => {
    const v = verifier({ cooldownMs: 300 });
    await v.verify(await mint());
    const base = issuer.jwksFetches();
    // Just fetched: an unknown kid does not cause a refetch inside the cooldown.
    await assert.rejects(v.verify(await mint({ kid: 'forged-1' })), AuthError);
    assert.equal(issuer.jwksFetches(), base);
    await sleep(350);
    const forged = await Promise.all(Array.from({ length: 10 }, (_, i) => mint({ kid: `forged-${i}` })));
    const results = await Promise.allSettled(forged.map((t) => v.verify(t)));
    assert.ok(
      results.every(
        (r) => r.status === 'rejected' && /matches the token's kid 'forged-/.test((r.reason as Error).message),
      ),
    );
    assert.equal(issuer.jwksFetches(), base + 1, 'ten forged kids cause exactly one refetch');
    await assert.rejects(v.verify(await mint({ kid: 'forged-again' })), AuthError);
    assert.equal(issuer.jwksFetches(), base + 1);
  });

  it('picks up rotated keys after the cooldown', async () => {
    const v = verifier({ cooldownMs: 100 });
    await v.verify(await mint());
    await issuer.rotateKeys();
    await sleep(150);
    assert.equal((await v.verify(await mint())).subject, `oidc:${issuer.issuer}|u`);
  });

  it('keeps serving the last good keys while the JWKS endpoint is down', async () => {
    const v = verifier({ cooldownMs: 20, maxAgeMs: 20 });
    const token = await mint();
    await v.verify(token);
    issuer.setDown(true);
    try {
      const fetchesBefore = v.jwks.fetches();
      for (let i = 0; i < 3; i++) {
        await sleep(40); // stale and out of cooldown: a refresh is attempted and fails
        assert.equal((await v.verify(token)).subject, `oidc:${issuer.issuer}|u`);
      }
      assert.ok(v.jwks.fetches() > fetchesBefore, 'refreshes were attempted');
      // An unknown kid while down cannot be decided: 503, not a misleading 401.
      await sleep(40);
      await assert.rejects(
        v.verify(await mint({ kid: 'new-kid' })),
        (e: unknown) => e instanceof AppError && e.code === 'ERR_UPSTREAM_UNAVAILABLE',
      );
    } finally {
      issuer.setDown(false);
    }
  });

  it('fails closed on a cold start with the endpoint down, naming the provider', async () => {
    issuer.setDown(true);
    try {
      const v = verifier({ cooldownMs: 50, jwksUri: issuer.jwksUri });
      await assert.rejects(v.verify(await mint()), (e: unknown) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, 'ERR_UPSTREAM_UNAVAILABLE');
        assert.equal(
          e.message,
          `The signing keys of oidc issuer ${issuer.issuer} could not be fetched (HTTP 503); try again shortly`,
        );
        return true;
      });
      // Inside the cooldown we do not even try again.
      const n = v.jwks.fetches();
      await assert.rejects(v.verify(await mint()), /failed recently/);
      assert.equal(v.jwks.fetches(), n);
      issuer.setDown(false);
      await sleep(60);
      assert.equal((await v.verify(await mint())).subject, `oidc:${issuer.issuer}|u`);
    } finally {
      issuer.setDown(false);
    }
  });
});

describe('JWKS outage over HTTP', () => {
  it('keeps accepting tokens signed with cached keys while the JWKS endpoint is down', async () => {
    // JWT_CACHE_SECONDS=0: every token is verified against the cached keys, not answered from the result cache.
    const s = await startTestServer({ JWT_CACHE_SECONDS: '0' });
    try {
      assert.equal((await postWithToken(s.url, await s.token({ sub: 'warm' }))).status, 200);
      s.issuer.setDown(true);
      const fetches = s.issuer.jwksFetches();
      for (const sub of ['a', 'b', 'c']) assert.equal((await postWithToken(s.url, await s.token({ sub }))).status, 200);
      assert.equal(s.issuer.jwksFetches(), fetches);
    } finally {
      s.issuer.setDown(false);
      await s.close();
    }
  });

  it('answers 503 ERR_UPSTREAM_UNAVAILABLE on a cold start, then recovers', async () => {
    const s = await startTestServer({ JWKS_COOLDOWN_SECONDS: '0' });
    try {
      s.issuer.setDown(true);
      const res = await postWithToken(s.url, await s.token());
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      const body = (await res.json()) as { error: { message: string; data: { code: string } } };
      assert.equal(body.error.data.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(body.error.message, new RegExp(`OIDC discovery failed for issuer ${s.issuer.issuer}`));
      s.issuer.setDown(false);
      assert.equal((await postWithToken(s.url, await s.token())).status, 200);
    } finally {
      await s.close();
    }
  });
});
