/**
 * The HTTP edge (issue 12) through the real server: bodies (charset, encoding, corrupt gzip, size),
 * authentication before the body, body/header deadlines, the per-client connection cap, and JSON-RPC
 * batches. Raw sockets where fetch would hide what the server does on the wire.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Answer {
  /** Everything the server sent before closing. */
  text: string;
  status: number | undefined;
  /** ms from the start of the exchange until the server closed the connection. */
  closedAfterMs: number;
}

/** Open a raw connection; `answer` resolves when the server closes it. */
function rawConnection(url: string, localAddress?: string): { socket: Socket; answer: Promise<Answer> } {
  const u = new URL(url);
  const started = performance.now();
  const socket = connect({ host: u.hostname, port: Number(u.port), localAddress });
  const chunks: Buffer[] = [];
  const answer = new Promise<Answer>((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined); // a reset after the answer is fine
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : undefined, closedAfterMs: performance.now() - started });
    });
  });
  return { socket, answer };
}

function headers(host: string, fields: Record<string, string | number>): string {
  return (
    `POST /mcp HTTP/1.1\r\nHost: ${host}\r\n` +
    Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n'
  );
}

const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

describe('HTTP edge: request bodies', () => {
  let s: TestServer;
  let token: string;
  const logs: string[] = [];
  before(async () => {
    const logTo = new PassThrough();
    logTo.on('data', (c: Buffer) => logs.push(...c.toString('utf8').split('\n').filter(Boolean)));
    s = await startTestServer(
      { RATE_LIMIT_PER_MINUTE: '0', HTTP_BODY_LIMIT_BYTES: '4096', LOG_LEVEL: 'debug' },
      { logTo },
    );
    token = await s.token();
  });
  after(async () => {
    await s?.close();
  });

  const post = (body: RequestInit['body'], h: Record<string, string> = {}) =>
    fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        ...h,
      },
      body,
    });
  const refusal = async (res: Response) => {
    const body = (await res.json()) as { error: { message: string; data: { code: string } } };
    return { status: res.status, code: body.error.data.code, message: body.error.message };
  };

  it('a gzip body is decoded and served', async () => {
    const res = await post(gzipSync(JSON.stringify(TOOLS_LIST)), { 'content-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as { result: { tools: unknown[] } }).result.tools.length > 0);
  });

  it('deflate and br bodies are decoded too', async () => {
    for (const [encoding, data] of [
      ['deflate', deflateSync(JSON.stringify(TOOLS_LIST))],
      ['br', brotliCompressSync(JSON.stringify(TOOLS_LIST))],
    ] as const) {
      const res = await post(data, { 'content-encoding': encoding });
      assert.equal(res.status, 200, encoding);
      await res.arrayBuffer();
    }
  });

  it('an unsupported charset: 415 ERR_UNSUPPORTED_MEDIA_TYPE naming it', async () => {
    const r = await refusal(
      await post(JSON.stringify(TOOLS_LIST), { 'content-type': 'application/json; charset=latin1' }),
    );
    assert.deepEqual(r, {
      status: 415,
      code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
      message: "Unsupported charset 'latin1': JSON bodies must be UTF-8",
    });
    const ok = await post(JSON.stringify(TOOLS_LIST), { 'content-type': 'application/json; charset="UTF-8"' });
    assert.equal(ok.status, 200, 'UTF-8 in any spelling is fine');
  });

  it('an unknown Content-Encoding: 415 naming it', async () => {
    const r = await refusal(await post(JSON.stringify(TOOLS_LIST), { 'content-encoding': 'zstd-bogus' }));
    assert.deepEqual(r, {
      status: 415,
      code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
      message: "Unsupported Content-Encoding 'zstd-bogus': use gzip, deflate, br or none",
    });
  });

  it('corrupt gzip: 400 ERR_INVALID_BODY', async () => {
    const broken = Buffer.concat([gzipSync(JSON.stringify(TOOLS_LIST)).subarray(0, 12), Buffer.from('garbage!!')]);
    const r = await refusal(await post(broken, { 'content-encoding': 'gzip' }));
    assert.deepEqual(r, {
      status: 400,
      code: 'ERR_INVALID_BODY',
      message: 'The request body is not valid gzip data (Content-Encoding)',
    });
  });

  it('invalid JSON, invalid UTF-8, an empty body, a non-JSON media type: clear 4xx', async () => {
    assert.deepEqual(await refusal(await post('{"jsonrpc":')), {
      status: 400,
      code: 'ERR_INVALID_BODY',
      message: 'The request body is not valid JSON',
    });
    assert.equal(
      (await refusal(await post(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))).message,
      'The request body is not valid UTF-8',
    );
    assert.equal((await refusal(await post(''))).message, 'The request body is empty');
    assert.deepEqual(await refusal(await post('a=b', { 'content-type': 'application/x-www-form-urlencoded' })), {
      status: 415,
      code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
      message: "Content-Type must be application/json (got 'application/x-www-form-urlencoded')",
    });
  });

  it('a body over HTTP_BODY_LIMIT_BYTES: 413, declared, chunked, or only after decompression (gzip bomb)', async () => {
    const big = JSON.stringify({ ...TOOLS_LIST, params: { pad: 'x'.repeat(5000) } });
    const declared = await refusal(await post(big));
    assert.deepEqual(declared, {
      status: 413,
      code: 'ERR_PAYLOAD_TOO_LARGE',
      message: 'The request body is larger than 4096 bytes',
    });
    // No Content-Length: counted while streaming.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const chunked = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: stream,
      duplex: 'half',
    });
    assert.equal((await refusal(chunked)).status, 413);
    const bomb = gzipSync(JSON.stringify({ ...TOOLS_LIST, params: { pad: '0'.repeat(1_000_000) } }));
    assert.ok(bomb.length < 4096, 'compressed it is small');
    assert.equal((await refusal(await post(bomb, { 'content-encoding': 'gzip' }))).status, 413);
  });

  it('none of these left a stack trace or an unhandled-error line in the log', () => {
    const bad = logs.filter((l) => /"stack"|unhandled error|\n\s+at /.test(l));
    assert.deepEqual(bad, []);
    assert.ok(
      logs.some((l) => l.includes('"statusCode":415')),
      'the refusals are logged as requests',
    );
  });
});

describe('HTTP edge: the token before the body, deadlines, connections per client', () => {
  let s: TestServer;
  let token: string;
  let host: string;
  before(async () => {
    s = await startTestServer({
      RATE_LIMIT_PER_MINUTE: '0',
      HTTP_BODY_TIMEOUT_MS: '600',
      HTTP_HEADERS_TIMEOUT_MS: '800',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      HTTP_MAX_CONNECTIONS_PER_CLIENT: '3',
    });
    token = await s.token();
    host = new URL(s.url).host;
  });
  after(async () => {
    await s?.close();
  });

  it(
    'without a valid token: 401 at once, the declared 10 MB body is never read, the connection closes',
    { timeout: 15_000 },
    async () => {
      const { socket, answer } = rawConnection(s.url);
      socket.write(
        headers(host, { 'Content-Type': 'application/json', 'Content-Length': 10_000_000, Accept: 'application/json' }),
      );
      socket.write('{"jsonrpc":"2.0",');
      const a = await answer;
      assert.equal(a.status, 401);
      assert.match(a.text, /connection: close/i);
      assert.ok(a.closedAfterMs < 2000, `closed after ${a.closedAfterMs} ms`);
    },
  );

  it('an authenticated slow body is cut off with 408 within HTTP_BODY_TIMEOUT_MS', { timeout: 15_000 }, async () => {
    const { socket, answer } = rawConnection(s.url);
    socket.write(
      headers(host, {
        'Content-Type': 'application/json',
        'Content-Length': 1000,
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${token}`,
      }),
    );
    const drip = setInterval(() => socket.writable && socket.write(' '), 100);
    const a = await answer;
    clearInterval(drip);
    assert.equal(a.status, 408, a.text);
    assert.match(a.text, /ERR_REQUEST_TIMEOUT/);
    assert.match(a.text, /within 600 ms \(HTTP_BODY_TIMEOUT_MS\)/);
    assert.ok(a.closedAfterMs >= 550 && a.closedAfterMs < 2000, `closed after ${a.closedAfterMs} ms`);
  });

  it(
    'headers that never finish: the connection is closed after HTTP_HEADERS_TIMEOUT_MS',
    { timeout: 15_000 },
    async () => {
      const { socket, answer } = rawConnection(s.url);
      socket.write(`POST /mcp HTTP/1.1\r\nHost: ${host}\r\n`);
      const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
      const a = await answer;
      clearInterval(drip);
      assert.ok(a.closedAfterMs >= 700 && a.closedAfterMs < 3000, `closed after ${a.closedAfterMs} ms`);
      assert.ok(a.status === undefined || a.status === 408, a.text);
    },
  );

  it(
    'the 4th concurrent connection from one address is refused (429); another address still gets in',
    { timeout: 15_000 },
    async () => {
      const held = [rawConnection(s.url), rawConnection(s.url), rawConnection(s.url)];
      await Promise.all(held.map((h) => new Promise((r) => h.socket.once('connect', r))));
      await new Promise((r) => setTimeout(r, 50)); // the server has counted them
      const fourth = rawConnection(s.url);
      fourth.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const refused = await fourth.answer;
      assert.equal(refused.status, 429, refused.text);
      assert.match(refused.text, /ERR_TOO_MANY_CONNECTIONS/);
      assert.match(refused.text, /at most 3, HTTP_MAX_CONNECTIONS_PER_CLIENT/);
      assert.doesNotMatch(refused.text, /"status":"ok"/, 'the request on the refused connection was not served');

      const other = rawConnection(s.url, '127.0.0.2');
      other.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      const served = await other.answer;
      assert.equal(served.status, 200, served.text);

      held[0]!.socket.destroy();
      await held[0]!.answer;
      await new Promise((r) => setTimeout(r, 50));
      const again = rawConnection(s.url);
      again.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal((await again.answer).status, 200, 'a freed slot is usable again');
      for (const h of held.slice(1)) h.socket.destroy();
      const refusedCount = /vault_mcp_http_connections_refused_total (\d+)/.exec(
        await (
          await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer test-metrics-token-0123456789' } })
        ).text(),
      );
      assert.equal(refusedCount?.[1], '1');
    },
  );
});

describe('HTTP edge: JSON-RPC batches', () => {
  let s: TestServer;
  let limited: TestServer;
  before(async () => {
    s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0' });
    limited = await startTestServer({ RATE_LIMIT_PER_MINUTE: '5', RATE_LIMIT_BURST: '5' });
  });
  after(async () => {
    await s?.close();
    await limited?.close();
  });

  const post = async (server: TestServer, body: unknown, version?: string) =>
    fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await server.token()}`,
        ...(version ? { 'mcp-protocol-version': version } : {}),
      },
      body: JSON.stringify(body),
    });
  const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ ...TOOLS_LIST, id: i + 1 }));
  type RpcError = { error: { code: number; message: string; data: { code: string } } };

  it('refused from 2025-06-18 on (no batching there), before any message runs', async () => {
    for (const v of ['2025-06-18', '2025-11-25']) {
      const res = await post(s, batch(2), v);
      assert.equal(res.status, 400);
      const body = (await res.json()) as RpcError;
      assert.equal(body.error.data.code, 'ERR_BATCH_REFUSED');
      assert.equal(body.error.code, -32600);
      assert.equal(
        body.error.message,
        `MCP protocol version ${v} has no JSON-RPC batching (removed in 2025-06-18): send one message per request`,
      );
    }
  });

  it('a batch containing initialize is refused in every version, with or without the header', async () => {
    const init = {
      jsonrpc: '2.0',
      id: 9,
      method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    };
    for (const v of [undefined, '2025-03-26', '2024-11-05']) {
      const res = await post(s, [init, TOOLS_LIST], v);
      assert.equal(res.status, 400);
      const body = (await res.json()) as RpcError;
      assert.equal(body.error.data.code, 'ERR_BATCH_REFUSED');
      assert.match(body.error.message, /'initialize' must be sent on its own/);
    }
  });

  it('older versions (or no header) still get batches answered', async () => {
    for (const v of [undefined, '2025-03-26']) {
      const res = await post(s, batch(3), v);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as unknown[]).length, 3);
    }
  });

  it('every message of a batch counts against the tenant limit (burst 5: a batch of 3 passes, the next is 429)', async () => {
    const first = await post(limited, batch(3), '2025-03-26');
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const second = await post(limited, batch(3), '2025-03-26');
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    const body = (await second.json()) as RpcError;
    assert.equal(body.error.data.code, 'ERR_RATE_LIMITED');
    assert.match(body.error.message, /a batch of 3 messages counts 3 requests/);
  });

  it(
    'a rate-limited tenant is refused before its body is read: 429 at once, connection closed',
    { timeout: 15_000 },
    async () => {
      const u = new URL(limited.url);
      const token = await limited.token();
      const spend = async () => (await post(limited, TOOLS_LIST)).status;
      while ((await spend()) !== 429); // spend the tenant's budget
      const { socket, answer } = rawConnection(limited.url);
      socket.write(
        headers(u.host, {
          'Content-Type': 'application/json',
          'Content-Length': 100_000,
          Accept: 'application/json, text/event-stream',
          Authorization: `Bearer ${token}`,
        }),
      );
      socket.write('{"jsonrpc":"2.0",'); // and never the rest
      const a = await answer;
      assert.equal(a.status, 429, a.text);
      assert.match(a.text, /connection: close/i);
      assert.ok(a.closedAfterMs < 2000, `closed after ${a.closedAfterMs} ms`);
    },
  );
});
