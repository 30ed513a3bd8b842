/**
 * Client ID Metadata Documents through the real server: a test https server (a self-signed
 * certificate made with openssl, trusted through the fetcher's test seam) serves documents for
 * `client.example.test`, which the test seam resolves to 127.0.0.1. A second server runs with the
 * production defaults (no seams) to show that real names and literals that reach private or loopback
 * addresses are refused before any connection is made.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cimdUrlProblem, isPublicAddress } from '../../src/oauth/cimd.js';
import { toolJson } from '../helpers/mcp.js';
import {
  authorizeCode,
  authorizeUrl,
  Browser,
  pkce,
  SdkTestProvider,
  sql,
  REDIRECT,
  startOAuthServer,
  tokenRequest,
  type OAuthTestServer,
} from '../helpers/oauth.js';

const HOST = 'client.example.test';

function makeCert(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmcp-cimd-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${HOST}`,
        '-addext',
        `subjectAltName=DNS:${HOST}`,
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('client ID metadata documents', () => {
  let https: Server;
  let base: string;
  let hits: string[] = [];
  let seamed: OAuthTestServer;
  let strict: OAuthTestServer;
  let tls: { key: string; cert: string };

  before(async () => {
    tls = makeCert();
    https = createServer(tls, (req, res) => {
      hits.push(req.url!);
      const doc = (over: Record<string, unknown> = {}) =>
        JSON.stringify({
          client_id: `${base}${req.url}`,
          client_name: 'Metadata Client',
          redirect_uris: [REDIRECT],
          ...over,
        });
      switch (req.url) {
        case '/good.json':
          res.setHeader('cache-control', 'max-age=60');
          return res.end(doc());
        case '/nostore.json':
          res.setHeader('cache-control', 'no-store');
          return res.end(doc());
        case '/big.json':
          return res.end(doc({ padding: 'x'.repeat(8000) }));
        case '/chunked-big.json':
          res.write('{"client_id":"');
          return res.end(`${'y'.repeat(8000)}"}`);
        case '/slow.json':
          return void setTimeout(() => res.end(doc()), 3000);
        case '/other.json':
          return res.end(doc({ client_id: `${base}/good.json` }));
        case '/redirect.json':
          res.statusCode = 302;
          res.setHeader('location', '/good.json');
          return res.end();
        case '/secret.json':
          return res.end(doc({ token_endpoint_auth_method: 'client_secret_basic' }));
        case '/sdk.json':
          return res.end(
            doc({ client_name: 'SDK via metadata document', grant_types: ['authorization_code', 'refresh_token'] }),
          );
        case '/evil-redirect.json':
          return res.end(doc({ redirect_uris: ['javascript:alert(1)'] }));
        default:
          res.statusCode = 404;
          return res.end();
      }
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    base = `https://${HOST}:${(https.address() as AddressInfo).port}`;
    const names: Record<string, string[]> = {
      [HOST]: ['127.0.0.1'],
      'internal.example.test': ['10.0.0.5'],
      'metadata.example.test': ['169.254.169.254'],
      'mixed.example.test': ['93.184.216.34', '10.1.2.3'],
      'mapped.example.test': ['::ffff:127.0.0.1'],
    };
    seamed = await startOAuthServer(
      { OAUTH_CIMD_TIMEOUT_MS: '700' },
      {
        cimd: {
          ca: tls.cert,
          lookup: (h) =>
            Promise.resolve((names[h] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))),
          // The test host only; everything else follows the production rule.
          isAllowedAddress: (ip) => ip === '127.0.0.1' || isPublicAddress(ip),
        },
      },
    );
    strict = await startOAuthServer();
  });
  after(async () => {
    await seamed?.close();
    await strict?.close();
    await new Promise((r) => https.close(r));
  });

  async function authorizePage(server: OAuthTestServer, clientId: string) {
    const res = await fetch(
      authorizeUrl(server.url, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
        state: 's',
      }),
      { redirect: 'manual' },
    );
    return { status: res.status, location: res.headers.get('location'), html: await res.text() };
  }

  it('a valid document works end to end (authorize, consent, token), and is cached by max-age', async () => {
    hits = [];
    const id = `${base}/good.json`;
    const a = await authorizeCode(seamed, id);
    const t = await tokenRequest(seamed.url, {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.verifier,
      redirect_uri: REDIRECT,
      client_id: id,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    await authorizePage(seamed, id);
    assert.equal(hits.filter((h) => h === '/good.json').length, 1, 'fetched once, then cached');
  });

  it('the MCP SDK client uses the metadata document (no registration) end to end', async () => {
    const provider = new SdkTestProvider(new Browser(seamed.url), `${base}/sdk.json`);
    const mcp = new URL('/mcp', seamed.url);
    const first = new StreamableHTTPClientTransport(mcp, { authProvider: provider });
    await assert.rejects(new Client({ name: 'cimd', version: '0' }).connect(first), UnauthorizedError);
    assert.equal(provider.info?.client_id, `${base}/sdk.json`, 'the URL is the client_id');
    await first.finishAuth(provider.code!);
    const client = new Client({ name: 'cimd', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(mcp, { authProvider: provider }));
    const me = toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.user, 'qa.manager@acme.com');
    await client.close();
    const clients = await sql<{ n: number }>(seamed.db.url, 'SELECT count(*)::int AS n FROM control.oauth_clients');
    assert.equal(clients[0]!.n, 0, 'nothing was registered');
  });

  it('no-store documents are fetched every time', async () => {
    hits = [];
    await authorizePage(seamed, `${base}/nostore.json`);
    await authorizePage(seamed, `${base}/nostore.json`);
    assert.equal(hits.length, 2);
  });

  const refused = [
    ['oversize (Content-Length)', '/big.json', /larger than 5120 bytes/],
    ['oversize (streamed)', '/chunked-big.json', /larger than 5120 bytes/],
    ['slow', '/slow.json', /did not arrive within 700 ms/],
    ['client_id differs from the URL', '/other.json', /different client_id/],
    ['a redirect', '/redirect.json', /HTTP 302/],
    ['a confidential auth method', '/secret.json', /only public clients/],
    ['a javascript: redirect URI', '/evil-redirect.json', /forbidden scheme/],
    ['not found', '/missing.json', /HTTP 404/],
  ] as const;
  for (const [what, p, text] of refused)
    it(`refuses a document that is ${what}: an error page, no redirect`, async () => {
      const r = await authorizePage(seamed, `${base}${p}`);
      assert.equal(r.status, 400);
      assert.equal(r.location, null);
      assert.match(r.html, text);
    });

  it('refuses names that resolve to private, link-local or IPv4-mapped addresses, and mixed answers', async () => {
    for (const h of ['internal.example.test', 'metadata.example.test', 'mixed.example.test', 'mapped.example.test']) {
      const r = await authorizePage(seamed, `https://${h}/client.json`);
      assert.equal(r.status, 400, h);
      assert.match(r.html, /not a public internet address/, h);
    }
  });

  it('with production defaults: localhost (real DNS), loopback and metadata literals are refused without connecting', async () => {
    hits = [];
    const port = (https.address() as AddressInfo).port;
    for (const id of [
      `https://localhost:${port}/good.json`,
      `https://127.0.0.1:${port}/good.json`,
      `https://[::1]:${port}/good.json`,
      'https://169.254.169.254/latest/meta-data.json',
      'https://10.0.0.1/client.json',
    ]) {
      const r = await authorizePage(strict, id);
      assert.equal(r.status, 400, id);
      assert.match(r.html, /not a public internet address/, id);
    }
    assert.deepEqual(hits, [], 'no request reached the https server');
  });

  it('client_id URLs must be https, with a path, and no query, fragment, credentials or dot segments', () => {
    assert.match(cimdUrlProblem('https://a.example')!, /path/);
    assert.match(cimdUrlProblem('https://a.example/c?x=1')!, /query/);
    assert.match(cimdUrlProblem('https://a.example/c#x')!, /fragment/);
    assert.match(cimdUrlProblem('https://u:p@a.example/c')!, /credentials/);
    assert.match(cimdUrlProblem('https://a.example/a/../c')!, /path segments|canonical/);
    assert.match(cimdUrlProblem('http://a.example/c')!, /https/);
    assert.equal(cimdUrlProblem('https://a.example/client.json'), undefined);
  });

  it('the address policy refuses every non-public range', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.1.1',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a00:1',
      '224.0.0.1',
      'not-an-ip',
    ])
      assert.equal(isPublicAddress(ip), false, ip);
    for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:93.184.216.34'])
      assert.equal(isPublicAddress(ip), true, ip);
  });
});
