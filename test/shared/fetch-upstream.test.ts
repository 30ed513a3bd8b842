import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchUpstream, UpstreamError } from '../../src/shared/fetch-upstream.js';

describe('fetchUpstream', () => {
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/ok') return void res.end('{"a":1}');
      if (url.pathname === '/hang') return; // never answers
      if (url.pathname === '/slow-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part');
        return; // headers and some body, then nothing
      }
      if (url.pathname === '/big-declared') {
        res.writeHead(200, { 'content-length': '5000' });
        return void res.end('x'.repeat(5000));
      }
      if (url.pathname === '/big-chunked') {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
        return void res.end();
      }
      if (url.pathname === '/redirect') {
        res.writeHead(302, { location: '/ok' });
        return void res.end();
      }
      if (url.pathname === '/empty') {
        res.writeHead(204);
        return void res.end();
      }
      res.writeHead(404);
      res.end('nope');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const isUpstream = (reason: string, detail: RegExp) => (e: unknown) => {
    assert.ok(e instanceof UpstreamError, String(e));
    assert.equal(e.code, 'ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(e.reason, reason);
    assert.equal(e.upstream, 'Test IdP');
    assert.match(e.message, /^Test IdP /);
    assert.match(e.message, detail);
    return true;
  };

  it('returns the response; status and body are readable', async () => {
    const res = await fetchUpstream(`${base}/ok`, { upstream: 'Test IdP', timeoutMs: 2000 });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { a: 1 });
    const missing = await fetchUpstream(`${base}/nope`, { upstream: 'Test IdP', timeoutMs: 2000 });
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), 'nope');
    const empty = await fetchUpstream(`${base}/empty`, { upstream: 'Test IdP', timeoutMs: 2000 });
    assert.equal(empty.status, 204);
  });

  it('times out an upstream that never answers, naming it', async () => {
    const t = performance.now();
    await assert.rejects(
      fetchUpstream(`${base}/hang`, { upstream: 'Test IdP', timeoutMs: 150 }),
      isUpstream('timeout', /did not answer within 150 ms/),
    );
    assert.ok(performance.now() - t < 2000);
  });

  it('the timeout also covers reading the body', async () => {
    const res = await fetchUpstream(`${base}/slow-body`, { upstream: 'Test IdP', timeoutMs: 200 });
    await assert.rejects(res.text(), isUpstream('timeout', /did not answer within 200 ms/));
  });

  it('refuses bodies over the limit, declared or streamed', async () => {
    await assert.rejects(
      fetchUpstream(`${base}/big-declared`, { upstream: 'Test IdP', timeoutMs: 2000, maxBytes: 1000 }),
      isUpstream('too_large', /larger than 1000 bytes/),
    );
    const res = await fetchUpstream(`${base}/big-chunked`, { upstream: 'Test IdP', timeoutMs: 2000, maxBytes: 2500 });
    await assert.rejects(res.text(), isUpstream('too_large', /larger than 2500 bytes/));
  });

  it('reports an unreachable upstream without its URL or credentials', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(
      fetchUpstream(`http://127.0.0.1:${port}/token?access_token=SECRET`, {
        upstream: 'Test IdP',
        timeoutMs: 2000,
        headers: { authorization: 'Bearer SECRET' },
      }),
      (e: unknown) => {
        isUpstream('network', /could not be reached/)(e);
        assert.ok(!JSON.stringify({ m: (e as Error).message, d: (e as UpstreamError).details }).includes('SECRET'));
        return true;
      },
    );
  });

  it('refuses redirects unless asked otherwise', async () => {
    await assert.rejects(
      fetchUpstream(`${base}/redirect`, { upstream: 'Test IdP', timeoutMs: 2000 }),
      isUpstream('network', /could not be reached/),
    );
    const manual = await fetchUpstream(`${base}/redirect`, {
      upstream: 'Test IdP',
      timeoutMs: 2000,
      redirect: 'manual',
    });
    assert.equal(manual.status, 302);
  });
});
