/**
 * Auth0 access tokens, with the dev issuer standing in for the Auth0 tenant (issuer with a trailing
 * slash, keys at /.well-known/jwks.json), over real HTTP with the SDK client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { callWhoami } from '../helpers/mcp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const API = 'https://vault-mcp.example.com/api';

describe('Auth0', () => {
  let auth0: DevIssuer;
  let s: TestServer;
  before(async () => {
    auth0 = await startDevIssuer({ issuerFor: (base) => `${base}/` });
    s = await startTestServer({
      AUTH0_DOMAIN: 'acme.eu.auth0.com',
      AUTH0_ISSUER_URL: auth0.issuer,
      AUTH0_AUDIENCE: API,
    });
  });
  after(async () => {
    await s?.close();
    await auth0?.close();
  });

  it('merges scope and RBAC permissions and reads the namespaced email claims', async () => {
    const token = await auth0.mint({
      sub: 'auth0|5f7c8ec7c33c6c004bbafe82',
      aud: [API, `${auth0.issuer}userinfo`],
      azp: 'spa-client',
      scope: 'openid email vault:read',
      permissions: ['vault:vql', 'vault:read'],
      'https://vault-mcp/email': 'ra@acme.com',
      'https://vault-mcp/email_verified': true,
    });
    const me = await callWhoami(s.url, token);
    assert.equal(me.provider, 'auth0');
    assert.equal(me.subject, 'auth0:auth0|5f7c8ec7c33c6c004bbafe82');
    assert.equal(me.user, 'ra@acme.com');
    assert.deepEqual(me.scopes, ['openid', 'email', 'vault:read', 'vault:vql']);
  });

  it('refuses a namespaced email_verified that is the string "true" (only the boolean counts)', async () => {
    const token = await auth0.mint({
      sub: 'auth0|1',
      aud: API,
      'https://vault-mcp/email': 'ra@acme.com',
      'https://vault-mcp/email_verified': 'true',
    });
    const res = await postWithToken(s.url, token);
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { data: { code: string } } };
    assert.equal(body.error.data.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
  });

  it('refuses a token for another API (aud)', async () => {
    await assert401(
      await postWithToken(s.url, await auth0.mint({ sub: 'auth0|1', aud: 'https://other-api' })),
      `The token audience (aud) is not this resource; expected ${API}`,
    );
  });

  it('refuses algorithms outside RS256/PS256', async () => {
    await assert401(
      await postWithToken(s.url, await auth0.mint({ sub: 'auth0|1', aud: API }, { alg: 'ES256' })),
      "Token algorithm 'ES256' is not allowed (allowed: RS256, PS256)",
    );
  });

  it('does not accept the Auth0 issuer spelled without its trailing slash', async () => {
    const noSlash = auth0.issuer.replace(/\/$/, '');
    await assert401(
      await postWithToken(s.url, await auth0.mint({ iss: noSlash, sub: 'auth0|1', aud: API })),
      `The token issuer '${noSlash}' is not trusted by this server`,
    );
  });

  it('advertises the Auth0 issuer', async () => {
    const m = (await (await fetch(`${s.url}/.well-known/oauth-protected-resource`)).json()) as {
      authorization_servers: string[];
    };
    assert.deepEqual(m.authorization_servers, [s.issuer.issuer, auth0.issuer]);
  });
});
