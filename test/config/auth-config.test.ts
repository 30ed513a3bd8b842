/**
 * Identity-provider configuration: defaults, derived values, and every problem reported at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const base = { NODE_ENV: 'test', PUBLIC_URL: 'https://mcp.acme.com' };

describe('auth config', () => {
  it('enables nothing but API keys by default', () => {
    const a = loadConfig(base).auth;
    assert.equal(a.oidc, undefined);
    assert.equal(a.google, undefined);
    assert.equal(a.auth0, undefined);
    assert.equal(a.github, undefined);
    assert.equal(a.githubActions, undefined);
    assert.deepEqual(a.defaultScopes, ['vault:read']);
  });

  it('derives provider settings with production defaults', () => {
    const a = loadConfig({
      ...base,
      GOOGLE_CLIENT_IDS: 'a.apps.googleusercontent.com, b.apps.googleusercontent.com',
      GOOGLE_HOSTED_DOMAINS: 'Acme.com',
      AUTH0_DOMAIN: 'acme.eu.auth0.com',
      GITHUB_ENABLED: 'true',
      GITHUB_ACTIONS_AUDIENCE: 'vault-mcp',
      GITHUB_ACTIONS_REPOSITORIES: 'Acme/*',
      GITHUB_ACTIONS_TENANT: 'acme',
    }).auth;
    assert.deepEqual(a.google, {
      clientIds: ['a.apps.googleusercontent.com', 'b.apps.googleusercontent.com'],
      jwksUri: 'https://www.googleapis.com/oauth2/v3/certs',
      tokeninfoUrl: 'https://oauth2.googleapis.com/tokeninfo',
      hostedDomains: ['acme.com'],
    });
    assert.deepEqual(a.auth0, {
      issuer: 'https://acme.eu.auth0.com/',
      audience: 'https://mcp.acme.com/mcp',
      claimsNamespace: 'https://vault-mcp/',
    });
    assert.deepEqual(a.github, { apiUrl: 'https://api.github.com', app: undefined });
    assert.deepEqual(a.githubActions, {
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'vault-mcp',
      repositories: ['acme/*'],
      tenantId: 'acme',
      scopes: ['vault:read'],
    });
  });

  it('reports every provider problem at once', () => {
    assert.throws(
      () =>
        loadConfig({
          ...base,
          AUTH0_AUDIENCE: 'x',
          GOOGLE_HOSTED_DOMAINS: 'acme.com',
          GITHUB_ACTIONS_AUDIENCE: 'vault-mcp',
          GITHUB_ACTIONS_REPOSITORIES: 'not a repo',
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(e.problems, [
          'GOOGLE_HOSTED_DOMAINS: set GOOGLE_CLIENT_IDS (or GOOGLE_OAUTH_CLIENT_ID) too',
          'AUTH0_AUDIENCE: set AUTH0_DOMAIN too',
          "GITHUB_ACTIONS_REPOSITORIES: 'not a repo' is not owner/repo or owner/*",
          'GITHUB_ACTIONS_TENANT: required with GITHUB_ACTIONS_AUDIENCE (workflow tokens carry no email to map to a tenant)',
        ]);
        return true;
      },
    );
  });

  it('refuses an Auth0 domain given as a URL and a GitHub Actions audience without an allow-list', () => {
    assert.throws(
      () => loadConfig({ ...base, AUTH0_DOMAIN: 'https://acme.auth0.com' }),
      /AUTH0_DOMAIN: must be a host name/,
    );
    assert.throws(
      () => loadConfig({ ...base, GITHUB_ACTIONS_AUDIENCE: 'x', GITHUB_ACTIONS_TENANT: 'acme' }),
      /GITHUB_ACTIONS_REPOSITORIES: required/,
    );
    assert.throws(
      () => loadConfig({ ...base, GITHUB_ACTIONS_TENANT: 'acme' }),
      /GITHUB_ACTIONS_TENANT: set GITHUB_ACTIONS_AUDIENCE too/,
    );
    assert.throws(
      () => loadConfig({ ...base, GITHUB_ENABLED: 'true', GITHUB_CLIENT_ID: 'Iv1.abc' }),
      /GITHUB_CLIENT_ID \/ GITHUB_CLIENT_SECRET: set both or neither/,
    );
  });
});
