/**
 * Upstream sign-in keys: each provider is configured only with its client credentials, defaults are
 * production values, and incomplete combinations are errors naming both keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const base = { NODE_ENV: 'test', PUBLIC_URL: 'https://mcp.acme.com' };

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('upstream sign-in config', () => {
  it('configures no upstream by default', () => {
    const u = loadConfig(base).upstream;
    assert.deepEqual(
      [u.oidc, u.google, u.github, u.auth0, u.timeoutMs, u.metadataCacheMs],
      [undefined, undefined, undefined, undefined, 5000, 3_600_000],
    );
    // A bearer-token-only OIDC setup does not become a sign-in provider.
    assert.equal(loadConfig({ ...base, OIDC_ISSUER: 'https://idp.acme.com' }).upstream.oidc, undefined);
  });

  it('derives every provider with production defaults', () => {
    const u = loadConfig({
      ...base,
      OIDC_ISSUER: 'https://idp.acme.com',
      OIDC_CLIENT_ID: 'oidc-client',
      OIDC_CLIENT_SECRET: 'oidc-secret',
      GOOGLE_OAUTH_CLIENT_ID: 'g.apps.googleusercontent.com',
      GOOGLE_OAUTH_CLIENT_SECRET: 'g-secret',
      GOOGLE_HOSTED_DOMAINS: 'Acme.com',
      GITHUB_ENABLED: 'true',
      GITHUB_CLIENT_ID: 'Iv1.abc',
      GITHUB_CLIENT_SECRET: 'gh-secret',
      AUTH0_DOMAIN: 'acme.eu.auth0.com',
      AUTH0_CLIENT_ID: 'a0-client',
      AUTH0_CLIENT_SECRET: 'a0-secret',
    }).upstream;
    assert.deepEqual(u.oidc, {
      issuer: 'https://idp.acme.com',
      clientId: 'oidc-client',
      clientSecret: 'oidc-secret',
      algorithms: ['RS256', 'ES256', 'PS256'],
    });
    assert.deepEqual(u.google, {
      issuer: 'https://accounts.google.com',
      clientId: 'g.apps.googleusercontent.com',
      clientSecret: 'g-secret',
      hostedDomains: ['acme.com'],
    });
    assert.deepEqual(u.github, {
      oauthUrl: 'https://github.com',
      apiUrl: 'https://api.github.com',
      clientId: 'Iv1.abc',
      clientSecret: 'gh-secret',
    });
    assert.deepEqual(u.auth0, {
      issuer: 'https://acme.eu.auth0.com/',
      clientId: 'a0-client',
      clientSecret: 'a0-secret',
    });
  });

  it('reports incomplete combinations, naming both keys', () => {
    assert.deepEqual(
      problems({
        OIDC_CLIENT_ID: 'c',
        GOOGLE_OAUTH_CLIENT_ID: 'g',
        AUTH0_CLIENT_SECRET: 's',
        GITHUB_OAUTH_URL: 'https://github.acme.com',
      }),
      [
        'OIDC_CLIENT_ID: set OIDC_ISSUER too',
        'GOOGLE_OAUTH_CLIENT_ID / GOOGLE_OAUTH_CLIENT_SECRET: set both or neither',
        'AUTH0_CLIENT_ID / AUTH0_CLIENT_SECRET: set both or neither',
        'GITHUB_OAUTH_URL: set GITHUB_CLIENT_ID too',
      ],
    );
    assert.deepEqual(problems({ OIDC_ISSUER: 'https://idp.acme.com', OIDC_CLIENT_SECRET: 's' }), [
      'OIDC_CLIENT_SECRET: set OIDC_CLIENT_ID too',
    ]);
    assert.deepEqual(problems({ AUTH0_CLIENT_ID: 'c', AUTH0_CLIENT_SECRET: 's' }), [
      'AUTH0_CLIENT_ID: set AUTH0_DOMAIN too',
    ]);
    assert.deepEqual(problems({ GOOGLE_ISSUER: 'not a url' }).length, 1);
    assert.deepEqual(problems({ UPSTREAM_TIMEOUT_MS: '10' }).length, 1);
  });

  it('requires https for sign-in URLs (plain http only on loopback)', () => {
    assert.deepEqual(
      problems({
        OIDC_ISSUER: 'http://idp.acme.com',
        OIDC_CLIENT_ID: 'c',
        GITHUB_ENABLED: 'true',
        GITHUB_CLIENT_ID: 'Iv1.abc',
        GITHUB_CLIENT_SECRET: 's',
        GITHUB_OAUTH_URL: 'http://github.acme.com',
      }),
      [
        'OIDC_ISSUER: must be an https:// URL for sign-in (plain http only on loopback)',
        'GITHUB_OAUTH_URL: must be an https:// URL for sign-in (plain http only on loopback)',
      ],
    );
    // Bearer-token verification alone keeps its old rules; loopback is fine for sign-in.
    assert.deepEqual(problems({ OIDC_ISSUER: 'http://idp.acme.com' }), []);
    assert.deepEqual(problems({ OIDC_ISSUER: 'http://127.0.0.1:9400', OIDC_CLIENT_ID: 'c' }), []);
  });

  it('lets GOOGLE_HOSTED_DOMAINS go with Google sign-in alone', () => {
    assert.deepEqual(problems({ GOOGLE_HOSTED_DOMAINS: 'acme.com' }), [
      'GOOGLE_HOSTED_DOMAINS: set GOOGLE_CLIENT_IDS (or GOOGLE_OAUTH_CLIENT_ID) too',
    ]);
    assert.deepEqual(
      problems({ GOOGLE_HOSTED_DOMAINS: 'acme.com', GOOGLE_OAUTH_CLIENT_ID: 'g', GOOGLE_OAUTH_CLIENT_SECRET: 's' }),
      [],
    );
  });
});
