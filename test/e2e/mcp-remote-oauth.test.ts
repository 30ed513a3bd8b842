/**
 * Issue 11, end to end with a real client: `npx mcp-remote <server>/mcp` with NO header. mcp-remote
 * discovers vault-mcp's authorization server, registers, opens the browser (our headless one clicks once:
 * the dev issuer's login link, then Allow on the consent page), gets tokens and calls `whoami` as the
 * signed-in user. The upstream is the real dev issuer (a real OIDC provider), configured the way an
 * operator does: OIDC_ISSUER + OIDC_CLIENT_ID, and with OIDC_CLIENT_SECRET for a confidential client.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { walk } from '../helpers/headless-browser.js';
import { toolJson } from '../helpers/mcp.js';
import { connectMcpRemote, MCP_REMOTE_0_1_38 } from '../helpers/mcp-remote.js';
import { authorizeUrl, pkce, publicClient, REDIRECT } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USERS = [
  { sub: 'qa.manager', email: 'qa.manager@acme.com', email_verified: true, name: 'QA Manager' },
  { sub: 'qa.specialist', email: 'qa.specialist@acme.com', email_verified: true, name: 'QA Specialist' },
  { sub: 'outsider', email: 'someone@unknown-pharma.example', email_verified: true, name: 'No tenant' },
];

async function whoamiThroughMcpRemote(s: TestServer, user?: string, proxyPath?: string) {
  const remote = await connectMcpRemote(s.resource, { user, proxyPath });
  try {
    const me = toolJson(await remote.client.callTool({ name: 'whoami', arguments: {} }));
    const trace = await remote.diagnostics();
    if (process.env.E2E_TRACE) console.log(trace);
    return { me, trace };
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await remote.diagnostics()}`, { cause: e });
  } finally {
    await remote.close();
  }
}

describe('mcp-remote with no header: sign in in the browser (public upstream client)', () => {
  let issuer: DevIssuer;
  let s: TestServer;
  before(async () => {
    issuer = await startDevIssuer({ users: USERS });
    s = await startTestServer(
      { OAUTH_SERVER_ENABLED: 'true', OIDC_CLIENT_ID: 'vault-mcp-dev', OAUTH_DCR_PER_HOUR: '0' },
      { issuer },
    );
  });
  after(async () => {
    await s?.close();
    await issuer?.close();
  });

  it('registers, signs the first demo user in with one click, and whoami names the user and the tenant', async () => {
    const { me, trace } = await whoamiThroughMcpRemote(s);
    assert.equal(me.user, 'qa.manager@acme.com');
    assert.equal(me.tenant, 'acme');
    assert.equal(me.provider, 'oidc');
    assert.match(trace, /after login → consent/, 'one click at the dev issuer, one on the consent page');
    assert.match(trace, /GET http:\/\/localhost:\d+\/oauth\/callback -> 200/, "mcp-remote's loopback got the code");
  });

  it('another demo user gets their own identity', async () => {
    const { me } = await whoamiThroughMcpRemote(s, 'qa.specialist@acme.com');
    assert.equal(me.user, 'qa.specialist@acme.com');
    assert.equal(me.tenant, 'acme');
  });

  it('a restarted mcp-remote reuses its stored tokens: no second browser sign-in', async () => {
    const configDir = await mkdtemp(path.join(tmpdir(), 'vmcp-mcp-remote-keep-'));
    try {
      for (const round of [1, 2]) {
        const remote = await connectMcpRemote(s.resource, { configDir });
        try {
          const me = toolJson(await remote.client.callTool({ name: 'whoami', arguments: {} }));
          assert.equal(me.user, 'qa.manager@acme.com', `round ${round}`);
        } finally {
          await remote.close();
        }
      }
      const log = await readFile(path.join(configDir, 'browser.log'), 'utf8');
      assert.equal(log.match(/ open #/g)?.length, 1, `the browser opened once:\n${log}`);
    } finally {
      await rm(configDir, { recursive: true, force: true });
    }
  });

  it('the user presses Deny on the consent page: mcp-remote fails with access_denied at once', async () => {
    await assert.rejects(connectMcpRemote(s.resource, { decision: 'deny', connectTimeoutMs: 20_000 }), (e: Error) => {
      assert.doesNotMatch(e.message, /timed out/);
      assert.match(e.message, /access_denied/);
      assert.match(e.message, /after login → consent/);
      return true;
    });
  });

  it('mcp-remote 0.1.38 (still cached by many npx installs) signs in the same way', async () => {
    const { me, trace } = await whoamiThroughMcpRemote(s, undefined, MCP_REMOTE_0_1_38);
    assert.equal(me.user, 'qa.manager@acme.com');
    assert.equal(me.tenant, 'acme');
    assert.match(trace, /via mcp-remote 0\.1\.3/, 'the old proxy really ran');
  });

  it('a user whose domain has no tenant: the page names the domain, and mcp-remote fails with access_denied at once', async () => {
    await assert.rejects(
      connectMcpRemote(s.resource, { user: 'someone@unknown-pharma.example', connectTimeoutMs: 20_000 }),
      (e: Error) => {
        assert.doesNotMatch(e.message, /timed out/, 'the client is told, not left waiting');
        assert.match(e.message, /access_denied/);
        assert.match(e.message, /unknown-pharma\.example/);
        assert.match(e.message, /error 403/, 'the user saw the refusal page first');
        return true;
      },
    );
  });
});

describe('mcp-remote with no header: generic OIDC upstream as a confidential client (OIDC_CLIENT_SECRET)', () => {
  const CLIENT_ID = 'vault-mcp-e2e';
  const SECRET = 'e2e-upstream-secret-0123456789';
  let issuer: DevIssuer;
  let s: TestServer;
  let wrong: TestServer;
  before(async () => {
    // With `clients`, the dev issuer refuses unknown client ids at /authorize and a wrong secret at /token.
    issuer = await startDevIssuer({ users: USERS, clients: { [CLIENT_ID]: SECRET } });
    const env = { OAUTH_SERVER_ENABLED: 'true', OIDC_CLIENT_ID: CLIENT_ID, OAUTH_DCR_PER_HOUR: '0' };
    s = await startTestServer({ ...env, OIDC_CLIENT_SECRET: SECRET }, { issuer });
    wrong = await startTestServer({ ...env, OIDC_CLIENT_SECRET: 'not-the-secret' }, { issuer });
  });
  after(async () => {
    await s?.close();
    await wrong?.close();
    await issuer?.close();
  });

  it('signs in with the client secret at the upstream token endpoint and whoami names the user', async () => {
    const before = issuer.codesRedeemed();
    const { me, trace } = await whoamiThroughMcpRemote(s);
    assert.equal(me.user, 'qa.manager@acme.com');
    assert.equal(me.tenant, 'acme');
    assert.match(trace, /after login → consent/);
    assert.equal(issuer.codesRedeemed(), before + 1, 'the upstream code was redeemed once, with the secret');
  });

  it('a wrong OIDC_CLIENT_SECRET: an error page says why, and its link hands server_error (no code) to the client', async () => {
    const clientId = await publicClient(wrong.url);
    const { challenge } = pkce();
    const start = authorizeUrl(wrong.url, {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st',
      resource: wrong.resource,
    });
    const r = await walk(start, { stopAt: (u) => u.href.startsWith(REDIRECT) });
    assert.deepEqual(r.pages, ['login', 'error 502'], 'signed in upstream; no consent page; an error page');
    assert.match(r.errors[0]!, /refused this server&#39;s client credentials \(invalid_client/);
    assert.match(r.errors[0]!, /ERR_UPSTREAM_INVALID/);
    const back = r.visited.at(-1)!;
    assert.ok(back.href.startsWith(REDIRECT), back.href);
    assert.equal(back.searchParams.get('error'), 'server_error');
    assert.match(back.searchParams.get('error_description') ?? '', /invalid_client.*ERR_UPSTREAM_INVALID/);
    assert.equal(back.searchParams.get('state'), 'st');
    assert.equal(back.searchParams.get('iss'), wrong.url);
    assert.equal(back.searchParams.get('code'), null);
  });

  it('regression: mcp-remote no longer waits for ever after a failed upstream sign-in; it fails with the reason', async () => {
    const t0 = Date.now();
    await assert.rejects(connectMcpRemote(wrong.resource, { connectTimeoutMs: 20_000 }), (e: Error) => {
      assert.doesNotMatch(e.message, /timed out/, 'before the fix mcp-remote waited for the callback for ever');
      assert.match(e.message, /server_error/);
      assert.match(e.message, /error 502/, 'the user saw the error page first');
      return true;
    });
    assert.ok(Date.now() - t0 < 20_000);
  });
});
