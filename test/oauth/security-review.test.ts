/**
 * Findings of the security review of the authorization server, one regression test each: each failed
 * before its fix. Headless browser, real server, fake upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  authorizeCode,
  authorizeUrl,
  Browser,
  pkce,
  publicClient,
  REDIRECT,
  register,
  startOAuthServer,
  type OAuthTestServer,
} from '../helpers/oauth.js';

const EVIL = 'https://evil.example/x';

describe('security review: no open redirect through open registration (RFC 9700 §4.11.2)', () => {
  let s: OAuthTestServer;
  let evilClient: string;
  before(async () => {
    s = await startOAuthServer();
    evilClient = await publicClient(s.url, { redirect_uris: [EVIL], token_endpoint_auth_method: 'none' });
  });
  after(async () => {
    await s.close();
  });

  /** A page (no Location) whose "Return to the application" link carries the OAuth error. */
  async function expectClickThrough(res: Response, error: string, state?: string) {
    assert.equal(res.headers.get('location'), null, 'not redirected automatically');
    assert.ok(res.status === 400 || res.status === 403, String(res.status));
    const html = await res.text();
    const m = /<a class="back" href="([^"]+)">Return to the application<\/a>/.exec(html);
    assert.ok(m, html.slice(0, 500));
    const back = new URL(m[1]!.replace(/&amp;/g, '&'));
    assert.equal(`${back.origin}${back.pathname}`, EVIL);
    assert.equal(back.searchParams.get('error'), error);
    assert.equal(back.searchParams.get('state'), state ?? null);
    assert.equal(back.searchParams.get('code'), null);
  }

  it('a bad request for a registered https redirect URI gets a page to click, not a 302', async () => {
    const res = await fetch(authorizeUrl(s.url, { client_id: evilClient, response_type: 'x' }), { redirect: 'manual' });
    await expectClickThrough(res, 'unsupported_response_type');
    const { challenge } = pkce();
    const base = { client_id: evilClient, response_type: 'code', code_challenge: challenge };
    const noS256 = await fetch(authorizeUrl(s.url, { ...base, state: 'st' }), { redirect: 'manual' });
    await expectClickThrough(noS256, 'invalid_request', 'st');
    const longState = await fetch(authorizeUrl(s.url, { ...base, state: 'x'.repeat(2000) }), { redirect: 'manual' });
    await expectClickThrough(longState, 'invalid_request');
  });

  it('an upstream refusal for an https client gets a page to click too', async () => {
    s.upstream.mode = 'deny';
    try {
      const { challenge } = pkce();
      const r = await new Browser(s.url).go(
        authorizeUrl(s.url, {
          client_id: evilClient,
          response_type: 'code',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          state: 'st-2',
        }),
      );
      assert.equal(r.location, undefined, 'not redirected automatically');
      assert.equal(r.status, 403);
      assert.match(r.html!, /Return to the application/);
      assert.match(r.html!, /access_denied/);
    } finally {
      s.upstream.mode = 'ok';
    }
  });

  it('loopback clients are still answered at once; consent still redirects to an https client', async () => {
    const loopback = await publicClient(s.url);
    const res = await fetch(authorizeUrl(s.url, { client_id: loopback, response_type: 'x', state: 'st' }), {
      redirect: 'manual',
    });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
    assert.equal(loc.searchParams.get('error'), 'unsupported_response_type');
    const a = await authorizeCode(s, evilClient, { redirectUri: EVIL });
    assert.equal(`${a.location.origin}${a.location.pathname}`, EVIL);
  });

  it('DCR refuses private-use schemes that open OS handlers; accepts reverse-domain and known clients', async () => {
    for (const uri of [
      'ms-settings:network',
      'ms-word:ofe|u|https://evil.example/x.docx',
      'search-ms:query=x',
      'ftp://evil.example/x',
      'mailto:a@evil.example',
      'tel:+15551234',
      'sms:+15551234',
      'file:///etc/passwd',
      'chrome://settings',
      'chrome-extension://abc/cb',
      'intent://x#Intent;end',
      'myapp://callback',
      'ms-app.example:/cb',
    ]) {
      const r = await register(s.url, { redirect_uris: [uri] });
      assert.equal(r.status, 400, uri);
      assert.equal(r.body.error, 'invalid_client_metadata', uri);
    }
    for (const uri of [
      'com.example.app:/oauth/callback',
      'cursor://anysphere.cursor-retrieval/oauth/callback',
      'vscode://vscode.github-authentication/did-authenticate',
      'vscode-insiders://x/cb',
      'claude://oauth/callback',
      'windsurf://cb',
    ]) {
      const r = await register(s.url, { redirect_uris: [uri] });
      assert.equal(r.status, 201, `${uri}: ${JSON.stringify(r.body)}`);
    }
  });
});
