/**
 * The dev issuer as a real upstream OpenID provider: discovery, login page (one link per user), the
 * token endpoint's checks (client authentication basic/post, single-use code, redirect_uri, PKCE
 * S256), and signing keys that survive a restart when persisted (file mode 0600).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';

const REDIRECT = 'http://127.0.0.1:1/oauth/callback';
const VERIFIER = 'v'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

/** Authorize → pick the first user → the code from the redirect. */
async function codeFor(issuer: DevIssuer, extra: Record<string, string> = {}): Promise<string> {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'app',
    redirect_uri: REDIRECT,
    state: 'st',
    nonce: 'no',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...extra,
  });
  const page = await (await fetch(`${issuer.authorizationEndpoint}?${q.toString()}`)).text();
  const href = /<a class="user" data-email="[^"]*" href="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, '&');
  const res = await fetch(new URL(href, issuer.baseUrl), { redirect: 'manual' });
  const back = new URL(res.headers.get('location')!);
  assert.equal(back.searchParams.get('state'), 'st');
  assert.equal(back.searchParams.get('iss'), issuer.issuer);
  return back.searchParams.get('code')!;
}

async function token(issuer: DevIssuer, body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(issuer.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('dev issuer as an upstream OpenID provider', () => {
  let issuer: DevIssuer;
  before(async () => {
    issuer = await startDevIssuer({
      clients: { app: 'app-secret' },
      users: [
        { sub: 'u1', email: 'qa@acme.com', email_verified: true, name: 'QA' },
        { sub: 'u2', email: 'qa2@acme.com', email_verified: true },
      ],
    });
  });
  after(async () => {
    await issuer?.close();
  });

  it('publishes the code flow in its discovery document', async () => {
    const d = (await (await fetch(`${issuer.baseUrl}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(d.authorization_endpoint, issuer.authorizationEndpoint);
    assert.equal(d.token_endpoint, issuer.tokenEndpoint);
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    assert.ok((d.grant_types_supported as string[]).includes('authorization_code'));
    assert.ok((d.grant_types_supported as string[]).includes('urn:ietf:params:oauth:grant-type:token-exchange'));
    assert.equal(d.authorization_response_iss_parameter_supported, true);
  });

  it('lists one sign-in link per user and refuses requests without PKCE S256', async () => {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: 'app',
      redirect_uri: REDIRECT,
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    });
    const page = await (await fetch(`${issuer.authorizationEndpoint}?${q.toString()}`)).text();
    assert.equal([...page.matchAll(/<a class="user"/g)].length, 2);
    assert.match(page, /data-email="qa2@acme.com"/);
    q.set('code_challenge_method', 'plain');
    const res = await fetch(`${issuer.authorizationEndpoint}?${q.toString()}`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.match(res.headers.get('location')!, /error=invalid_request.*PKCE/);
    q.set('client_id', 'unknown');
    assert.equal((await fetch(`${issuer.authorizationEndpoint}?${q.toString()}`)).status, 400);
  });

  it('redeems a code once, with client_secret_basic, returning a signed ID token with nonce and email', async () => {
    const code = await codeFor(issuer);
    const basic = `Basic ${Buffer.from('app:app-secret').toString('base64')}`;
    const grant = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER };
    const ok = await token(issuer, grant, { authorization: basic });
    assert.equal(ok.status, 200);
    const { payload } = await jwtVerify(ok.body.id_token!, createRemoteJWKSet(new URL(issuer.jwksUri)), {
      issuer: issuer.issuer,
      audience: 'app',
    });
    assert.equal(payload.nonce, 'no');
    assert.equal(payload.email, 'qa@acme.com');
    assert.equal(payload.email_verified, true);
    const replay = await token(issuer, grant, { authorization: basic });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
  });

  it('accepts client_secret_post and refuses a wrong secret, verifier or redirect_uri', async () => {
    const post = { grant_type: 'authorization_code', client_id: 'app', client_secret: 'app-secret' };
    const wrongSecret = await token(issuer, {
      ...post,
      client_secret: 'x',
      code: await codeFor(issuer),
      redirect_uri: REDIRECT,
      code_verifier: VERIFIER,
    });
    assert.equal(wrongSecret.body.error, 'invalid_client');
    const wrongVerifier = await token(issuer, {
      ...post,
      code: await codeFor(issuer),
      redirect_uri: REDIRECT,
      code_verifier: 'w'.repeat(43),
    });
    assert.match(wrongVerifier.body.error_description!, /PKCE/);
    const wrongRedirect = await token(issuer, {
      ...post,
      code: await codeFor(issuer),
      redirect_uri: 'http://127.0.0.1:1/elsewhere',
      code_verifier: VERIFIER,
    });
    assert.match(wrongRedirect.body.error_description!, /redirect_uri/);
    const ok = await token(issuer, {
      ...post,
      code: await codeFor(issuer),
      redirect_uri: REDIRECT,
      code_verifier: VERIFIER,
    });
    assert.equal(ok.status, 200);
  });
});

describe('dev issuer signing keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vmcp-issuer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persist in the key file (0600): a token minted before a restart verifies after it', async () => {
    const keyFile = path.join(dir, 'keys', 'dev-issuer-keys.json');
    const first = await startDevIssuer({ keyFile });
    const token = await first.mint({ sub: 'u', aud: 'x' });
    const es = await first.mint({ sub: 'u', aud: 'x' }, { alg: 'ES256' });
    await first.close();
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);

    const second = await startDevIssuer({ keyFile });
    try {
      const jwks = createRemoteJWKSet(new URL(second.jwksUri));
      // The issuer URL changed with the port; the keys did not.
      await jwtVerify(token, jwks, { audience: 'x' });
      await jwtVerify(es, jwks, { audience: 'x' });
      const published = (await (await fetch(second.jwksUri)).json()) as { keys: Record<string, unknown>[] };
      for (const k of published.keys) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[p], undefined);
    } finally {
      await second.close();
    }
  });

  it('stay in memory without a key file (each start has new keys)', async () => {
    const a = await startDevIssuer();
    const b = await startDevIssuer();
    try {
      const token = await a.mint({ sub: 'u', aud: 'x' });
      await assert.rejects(jwtVerify(token, createRemoteJWKSet(new URL(b.jwksUri)), { audience: 'x' }));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
