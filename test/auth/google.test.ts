/**
 * Google sign-in against the local Google fake (JWKS + tokeninfo), over real HTTP with the SDK client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createGoogleVerifiers } from '../../src/auth/google-verifier.js';
import { startGoogleFake, type GoogleFake } from '../../src/dev/google-fake.js';
import { AuthError } from '../../src/errors/index.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { callWhoami as whoami } from '../helpers/mcp.js';
import { DEFAULT_TEST_TENANTS, startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { tenantInput } from '../helpers/tenants.js';

const CLIENT = '1234-abc.apps.googleusercontent.com';

describe('Google', () => {
  let google: GoogleFake;
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  before(async () => {
    google = await startGoogleFake();
    // acme: Workspace accounts only (the default); open: consumer accounts opted in.
    file = await writeTenantsFile({
      tenants: [...DEFAULT_TEST_TENANTS.tenants, tenantInput('open', ['open.org'], { allowConsumerAccounts: true })],
    });
    s = await startTestServer({
      GOOGLE_CLIENT_IDS: `${CLIENT}, other-client`,
      GOOGLE_JWKS_URI: google.jwksUri,
      GOOGLE_TOKENINFO_URL: google.tokeninfoUrl,
      DEFAULT_SCOPES: 'vault:read',
      TENANTS_FILE: file.file,
    });
  });
  after(async () => {
    await s?.close();
    await google?.close();
    await file?.remove();
  });

  it('refuses an ID token whose email_verified is the string "true": only the boolean counts in a JWT', async () => {
    for (const email_verified of ['true', 'True', 1]) {
      const res = await postWithToken(
        s.url,
        await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'qa@acme.com', hd: 'acme.com', email_verified }),
      );
      assert.equal(res.status, 403, String(email_verified));
      const body = (await res.json()) as { error: { data: { code: string } } };
      assert.equal(body.error.data.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    }
  });

  it('reads tokeninfo as Google sends it: the string "true" is verified there, "false" and other strings are not', async () => {
    const ok = google.issueAccessToken({ sub: '50', aud: CLIENT, email: 'ti@acme.com', hd: 'acme.com' });
    assert.equal((await whoami(s.url, ok)).user, 'ti@acme.com');
    const no = google.issueAccessToken({
      sub: '51',
      aud: CLIENT,
      email: 'ti@acme.com',
      hd: 'acme.com',
      email_verified: false,
    });
    const res = await postWithToken(s.url, no);
    assert.equal(res.status, 403);
  });

  it('refuses a consumer Google account (no hd) at a tenant domain unless the tenant opted in', async () => {
    const consumer = await google.mintIdToken({ sub: '60', aud: CLIENT, email: 'ex.employee@acme.com' });
    const res = await postWithToken(s.url, consumer);
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { message: string; data: { code: string } } };
    assert.equal(body.error.data.code, 'ERR_TENANT_CONSUMER_ACCOUNT');
    assert.match(body.error.message, /consumer account \(no Workspace domain, hd\), and tenant "acme"/);
    // An opaque access token's tokeninfo carries no hd: a consumer account too.
    const opaque = google.issueAccessToken({ sub: '61', aud: CLIENT, email: 'ex.employee@acme.com' });
    assert.equal((await postWithToken(s.url, opaque)).status, 403);
    // The tenant that opted in accepts both.
    const me = await whoami(s.url, await google.mintIdToken({ sub: '62', aud: CLIENT, email: 'fan@open.org' }));
    assert.equal(me.tenant, 'open');
  });

  it("refuses a Workspace account whose hd is not a domain of the email's tenant", async () => {
    for (const hd of ['evil.com', 'open.org', 'ACME.COM.evil.io']) {
      const res = await postWithToken(
        s.url,
        await google.mintIdToken({ sub: '70', aud: CLIENT, email: 'qa@acme.com', hd }),
      );
      assert.equal(res.status, 403, hd);
      const body = (await res.json()) as { error: { message: string; data: { code: string } } };
      assert.equal(body.error.data.code, 'ERR_TENANT_CONSUMER_ACCOUNT', hd);
      assert.match(body.error.message, /is not a domain of tenant "acme"/);
    }
    // hd compared case-insensitively (Google writes it lower-case anyway).
    const me = await whoami(
      s.url,
      await google.mintIdToken({ sub: '71', aud: CLIENT, email: 'qa@acme.com', hd: 'Acme.com' }),
    );
    assert.equal(me.tenant, 'acme');
  });

  it('accepts an ID token for our client id (both iss spellings) with the default scopes', async () => {
    for (const iss of ['https://accounts.google.com', 'accounts.google.com']) {
      const me = await whoami(
        s.url,
        await google.mintIdToken({
          iss,
          sub: '10769150350006150715',
          aud: CLIENT,
          azp: CLIENT,
          email: 'qa@acme.com',
          hd: 'acme.com',
        }),
      );
      assert.equal(me.provider, 'google');
      assert.equal(me.subject, 'google:10769150350006150715');
      assert.equal(me.user, 'qa@acme.com');
      assert.equal(me.issuer, 'https://accounts.google.com');
      assert.deepEqual(me.scopes, ['vault:read']);
    }
  });

  it('refuses an ID token issued to another client (aud)', async () => {
    const token = await google.mintIdToken({ sub: '1', aud: 'someone-elses-client', email: 'qa@acme.com' });
    await assert401(
      await postWithToken(s.url, token),
      `The token audience (aud) is not this resource; expected ${CLIENT} or other-client`,
    );
  });

  it('refuses an ID token whose email is not verified (403)', async () => {
    const res = await postWithToken(
      s.url,
      await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'qa@acme.com', email_verified: false }),
    );
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { message: string; data: { code: string } } };
    assert.equal(body.error.data.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    assert.equal(body.error.message, 'The Google account email qa@acme.com is not verified');
  });

  it('refuses a Google ID token signed ES256 or without iat', async () => {
    await assert401(
      await postWithToken(
        s.url,
        await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'a@acme.com' }, { alg: 'ES256' }),
      ),
      "Token algorithm 'ES256' is not allowed (allowed: RS256)",
    );
    await assert401(
      await postWithToken(
        s.url,
        await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'a@acme.com', iat: undefined }),
      ),
      "The token claim 'iat' is invalid: missing",
    );
  });

  it('accepts an opaque access token via tokeninfo and caches the result', async () => {
    const token = google.issueAccessToken({
      sub: '42',
      aud: CLIENT,
      email: 'rs@acme.com',
      email_verified: true,
      hd: 'acme.com',
    });
    const before = google.tokeninfoCalls();
    const me = await whoami(s.url, token);
    assert.equal(me.provider, 'google');
    assert.equal(me.subject, 'google:42');
    assert.equal(me.user, 'rs@acme.com');
    await whoami(s.url, token);
    assert.equal(google.tokeninfoCalls() - before, 1, 'one tokeninfo call for several requests');
  });

  it('refuses an access token issued to another client (confused deputy)', async () => {
    const token = google.issueAccessToken({ sub: '42', aud: 'another-app', azp: 'another-app', email: 'rs@acme.com' });
    await assert401(
      await postWithToken(s.url, token),
      `The Google access token was issued to another client (aud/azp 'another-app'); expected ${CLIENT} or other-client`,
    );
  });

  it('refuses unknown access tokens and caches the refusal briefly', async () => {
    const before = google.tokeninfoCalls();
    for (let i = 0; i < 3; i++)
      await assert401(
        await postWithToken(s.url, 'ya29.unknown-token'),
        'Google rejected the access token (invalid, expired or revoked)',
      );
    assert.equal(google.tokeninfoCalls() - before, 1);
  });

  it('refuses an access token with an unverified email', async () => {
    const res = await postWithToken(
      s.url,
      google.issueAccessToken({ sub: '7', aud: CLIENT, email: 'x@acme.com', email_verified: false }),
    );
    assert.equal(res.status, 403);
  });

  it('answers 503 while tokeninfo is down, and does not cache the outage', async () => {
    const token = google.issueAccessToken({ sub: '43', aud: CLIENT, email: 'ops@acme.com', hd: 'acme.com' });
    google.setDown(true);
    try {
      const res = await postWithToken(s.url, token);
      assert.equal(res.status, 503);
      assert.equal(
        ((await res.json()) as { error: { message: string } }).error.message,
        'Google tokeninfo answered HTTP 503; try again shortly',
      );
    } finally {
      google.setDown(false);
    }
    assert.equal((await whoami(s.url, token)).subject, 'google:43');
  });

  it('advertises Google as an authorization server', async () => {
    const m = (await (await fetch(`${s.url}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      authorization_servers: string[];
    };
    assert.ok(m.authorization_servers.includes('https://accounts.google.com'));
  });
});

describe('Google hosted domains (hd)', () => {
  let google: GoogleFake;
  before(async () => {
    google = await startGoogleFake();
  });
  after(async () => {
    await google?.close();
  });
  const verifiers = () =>
    createGoogleVerifiers({
      clientIds: [CLIENT],
      jwksUri: google.jwksUri,
      tokeninfoUrl: google.tokeninfoUrl,
      hostedDomains: ['acme.com'],
      defaultScopes: ['vault:read'],
      clockSkewSeconds: 30,
      cacheTtlMs: 60_000,
      negativeCacheTtlMs: 1_000,
    });

  it('accepts an ID token from the Workspace domain and records it', async () => {
    const u = await verifiers().idTokens.verify(
      await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'qa@acme.com', hd: 'acme.com' }),
    );
    assert.equal(u.hostedDomain, 'acme.com');
  });

  it('refuses another domain, a consumer account, and access tokens (which cannot prove hd)', async () => {
    const v = verifiers();
    await assert.rejects(
      v.idTokens.verify(await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'qa@evil.com', hd: 'evil.com' })),
      {
        message: "The Google Workspace domain (hd) 'evil.com' is not allowed; allowed: acme.com",
      },
    );
    await assert.rejects(v.idTokens.verify(await google.mintIdToken({ sub: '1', aud: CLIENT, email: 'qa@acme.com' })), {
      message: 'The Google account is not in a Google Workspace domain (no hd claim); allowed: acme.com',
    });
    await assert.rejects(
      v.accessTokens.verify(google.issueAccessToken({ sub: '1', aud: CLIENT, email: 'qa@acme.com' })),
      (e: unknown) => {
        assert.ok(e instanceof AuthError);
        assert.match(e.message, /send a Google ID token/);
        return true;
      },
    );
  });
});
