/**
 * The happy path of the authorization server, headless: DCR, authorize, fake upstream, consent form,
 * code, token, /mcp with our token, refresh rotation, metadata.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callWhoami } from '../helpers/mcp.js';
import {
  authorizeCode,
  exchange,
  publicClient,
  register,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';

describe('authorization server: the happy path', () => {
  let s: OAuthTestServer;
  before(async () => {
    s = await startOAuthServer();
  });
  after(async () => {
    await s.close();
  });

  it('publishes RFC 8414 metadata and names itself the only authorization server of the resource', async () => {
    const md = (await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(md.issuer, s.url);
    assert.equal(md.client_id_metadata_document_supported, true);
    assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
    assert.equal(md.token_endpoint, `${s.url}/oauth/token`);
    const prm = (await (await fetch(`${s.url}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(prm.authorization_servers, [s.url]);
    const jwks = (await (await fetch(String(md.jwks_uri))).json()) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.alg, 'ES256');
    assert.equal(jwks.keys[0]!.d, undefined, 'no private part');
  });

  it('authorize → consent → code → tokens → whoami; refresh rotates', async () => {
    const clientId = await publicClient(s.url);
    const a = await authorizeCode(s, clientId);
    assert.equal(a.location.searchParams.get('iss'), s.url);
    const t = await exchange(s, clientId, a);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.token_type, 'Bearer');
    assert.equal(t.body.expires_in, 900);
    assert.match(t.body.refresh_token, /^vmrt_/);
    const me = await callWhoami(s.url, t.body.access_token);
    assert.equal(me.user, 'qa.manager@acme.com');
    assert.equal(me.subject, 'oidc:https://idp.example.test|u-123', 'the same subject an IdP token would give');
    assert.equal(me.provider, 'oidc');
    assert.equal(me.tenant, 'acme');
    assert.deepEqual(me.scopes, ['vault:read']);
    const r = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: t.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.body.refresh_token, t.body.refresh_token);
    await callWhoami(s.url, r.body.access_token);
  });
});

describe('authorization server: per-IP rate limit', () => {
  let s: OAuthTestServer;
  before(async () => {
    s = await startOAuthServer({ OAUTH_RATE_LIMIT_PER_MINUTE: '10', OAUTH_DCR_PER_HOUR: '2' });
  });
  after(async () => {
    await s.close();
  });

  it('answers 429 with Retry-After once the burst is spent (token endpoint JSON, authorize a page)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++)
      statuses.push(
        (await tokenRequest(s.url, { grant_type: 'refresh_token', refresh_token: 'vmrt_x', client_id: 'x' })).status,
      );
    assert.ok(
      statuses.slice(0, 10).every((x) => x !== 429),
      statuses.join(),
    );
    assert.equal(statuses.at(-1), 429);
    const page = await fetch(`${s.url}/authorize?client_id=x`, { redirect: 'manual' });
    assert.equal(page.status, 429);
    assert.ok(Number(page.headers.get('retry-after')) >= 1);
    assert.match(await page.text(), /Too many requests/);
  });

  it('limits dynamic registrations per IP per hour (OAUTH_DCR_PER_HOUR)', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await register(s.url)).status);
    assert.deepEqual(statuses, [201, 201, 429]);
  });
});
