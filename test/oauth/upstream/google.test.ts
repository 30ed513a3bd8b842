/**
 * Google sign-in against the Google fake's OAuth leg (discovery, login page, token endpoint), built
 * from config the way main builds it: verified email, and GOOGLE_HOSTED_DOMAINS enforced on `hd`
 * exactly as for Google bearer tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { startGoogleFake, type GoogleFake } from '../../../src/dev/google-fake.js';
import { createUpstreamRegistry } from '../../../src/oauth/upstream/registry.js';
import type { UpstreamProvider } from '../../../src/oauth/upstream/types.js';
import { driveSignIn, failure } from '../../helpers/upstream.js';

const CLIENT_ID = '123-abc.apps.googleusercontent.com';
const SECRET = 'GOCSPX-test-secret';
const noTenants = { findById: () => Promise.resolve(undefined), findByEmail: () => Promise.resolve(undefined) };

describe('Google upstream', () => {
  let google: GoogleFake;
  const providerFor = async (env: Record<string, string>): Promise<UpstreamProvider> => {
    const config = loadConfig({
      NODE_ENV: 'test',
      GOOGLE_OAUTH_CLIENT_ID: CLIENT_ID,
      GOOGLE_OAUTH_CLIENT_SECRET: SECRET,
      GOOGLE_ISSUER: google.oauth.issuer,
      ...env,
    });
    return (await createUpstreamRegistry({ config, tenants: noTenants, secrets: () => undefined }).get('google'))!;
  };

  before(async () => {
    google = await startGoogleFake({
      clients: { [CLIENT_ID]: SECRET },
      users: [
        { sub: '1001', email: 'ann@acme.com', email_verified: true, name: 'Ann', claims: { hd: 'acme.com' } },
        { sub: '1002', email: 'bo@beta.com', email_verified: true, claims: { hd: 'beta.com' } },
        { sub: '1003', email: 'cy@gmail.com', email_verified: true },
        { sub: '1004', email: 'di@acme.com', email_verified: 'true', claims: { hd: 'acme.com' } },
        { sub: '1005', email: 'ann@merck.com', email_verified: true, claims: { hd: 'merc\u212A.com' } },
      ],
    });
  });
  after(async () => {
    await google?.close();
  });

  it('signs in a Workspace user and reports the hosted domain', async () => {
    const google1 = await providerFor({ GOOGLE_HOSTED_DOMAINS: 'acme.com' });
    assert.equal(google1.displayName, 'Google');
    const run = await driveSignIn(google1, 'ann@acme.com');
    // One allowed domain: the request pre-selects it.
    assert.equal(run.authorizationUrl.searchParams.get('hd'), 'acme.com');
    const id = await google1.exchange(run);
    assert.deepEqual(
      { subject: id.subject, provider: id.provider, email: id.email, hd: id.hostedDomain, issuer: id.issuer },
      { subject: '1001', provider: 'google', email: 'ann@acme.com', hd: 'acme.com', issuer: google.oauth.issuer },
    );
  });

  it('refuses another Workspace domain and consumer accounts when hosted domains are set', async () => {
    const p = await providerFor({ GOOGLE_HOSTED_DOMAINS: 'acme.com' });
    const other = await failure(p.exchange(await driveSignIn(p, 'bo@beta.com')));
    assert.equal(other.code, 'ERR_UPSTREAM_DENIED');
    assert.match(other.message, /Workspace domain \(hd\) 'beta.com' is not allowed; allowed: acme.com/);
    const consumer = await failure(p.exchange(await driveSignIn(p, 'cy@gmail.com')));
    assert.match(consumer.message, /not in a Google Workspace domain \(no hd claim\)/);
  });

  it('refuses an hd that is not ASCII instead of lower-casing it into an allowed domain (Kelvin sign)', async () => {
    const p = await providerFor({ GOOGLE_HOSTED_DOMAINS: 'merck.com' });
    const f = await failure(p.exchange(await driveSignIn(p, 'ann@merck.com')));
    assert.equal(f.code, 'ERR_UPSTREAM_DENIED');
    assert.match(f.message, /is not plain ASCII/);
  });

  it('accepts any verified account without hosted domains, and asks to pick an account', async () => {
    const p = await providerFor({});
    const run = await driveSignIn(p, 'cy@gmail.com');
    assert.equal(run.authorizationUrl.searchParams.get('prompt'), 'select_account');
    const id = await p.exchange(run);
    assert.equal(id.email, 'cy@gmail.com');
    assert.equal(id.hostedDomain, undefined);
  });

  it('refuses email_verified given as the string "true"', async () => {
    const p = await providerFor({});
    const f = await failure(p.exchange(await driveSignIn(p, 'di@acme.com')));
    assert.equal(f.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    assert.match(f.message, /Google does not vouch for the email di@acme.com/);
  });

  it('answers 503 naming Google while its discovery is down', async () => {
    const p = await providerFor({});
    google.oauth.setDown(true);
    try {
      const f = await failure(
        p.authorizationUrl({ state: 's', nonce: 'n', codeChallenge: 'c', redirectUri: 'https://x/cb' }),
      );
      assert.equal(f.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(f.message, /^Sign-in with Google is unavailable/);
    } finally {
      google.oauth.setDown(false);
    }
  });
});
