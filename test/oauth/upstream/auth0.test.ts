/**
 * Auth0 sign-in against the dev issuer standing in for an Auth0 tenant (issuer with the trailing
 * slash Auth0 uses; discovery at https://<domain>/.well-known/openid-configuration), from config.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { startDevIssuer, type DevIssuer } from '../../../src/dev/issuer.js';
import { createUpstreamRegistry } from '../../../src/oauth/upstream/registry.js';
import { driveSignIn, failure } from '../../helpers/upstream.js';

const noTenants = { findById: () => Promise.resolve(undefined), findByEmail: () => Promise.resolve(undefined) };

describe('Auth0 upstream', () => {
  let auth0: DevIssuer;
  before(async () => {
    auth0 = await startDevIssuer({
      issuerFor: (base) => `${base}/`,
      clients: { 'auth0-client': 'auth0-secret' },
      users: [{ sub: 'auth0|5f7c', email: 'ra@acme.com', email_verified: true, name: 'Ra' }],
    });
  });
  after(async () => {
    await auth0?.close();
  });

  it('signs in through discovery at the tenant domain and the code flow', async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      AUTH0_DOMAIN: 'acme.eu.auth0.com',
      AUTH0_ISSUER_URL: auth0.issuer,
      AUTH0_CLIENT_ID: 'auth0-client',
      AUTH0_CLIENT_SECRET: 'auth0-secret',
    });
    const registry = createUpstreamRegistry({ config, tenants: noTenants, secrets: () => undefined });
    assert.deepEqual(
      registry.list().map((p) => [p.id, p.displayName]),
      [['auth0', 'Auth0']],
    );
    const p = (await registry.get('auth0'))!;
    const id = await p.exchange(await driveSignIn(p, 'ra@acme.com'));
    assert.equal(id.provider, 'auth0');
    assert.equal(id.issuer, auth0.issuer);
    assert.equal(id.subject, 'auth0|5f7c');
    assert.equal(id.email, 'ra@acme.com');
  });

  it('refuses an ID token for another Auth0 application', async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      AUTH0_DOMAIN: 'acme.eu.auth0.com',
      AUTH0_ISSUER_URL: auth0.issuer,
      AUTH0_CLIENT_ID: 'auth0-client',
      AUTH0_CLIENT_SECRET: 'auth0-secret',
    });
    const p = (await createUpstreamRegistry({ config, tenants: noTenants, secrets: () => undefined }).get('auth0'))!;
    const run = await driveSignIn(p, 'ra@acme.com');
    auth0.setIdTokenOverride({ claims: { aud: 'other-app', azp: 'other-app' } });
    try {
      const f = await failure(p.exchange(run));
      assert.equal(f.code, 'ERR_UPSTREAM_INVALID');
      assert.match(f.message, /Auth0 .*"aud"/);
    } finally {
      auth0.setIdTokenOverride(undefined);
    }
  });
});
