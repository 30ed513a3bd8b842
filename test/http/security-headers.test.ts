/**
 * securityHeaders() sends exactly what helmet sends with the same options (it replays helmet's output),
 * over real HTTP, side by side.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { securityHeaders } from '../../src/http/security-headers.js';

async function headersOf(use: express.RequestHandler): Promise<Record<string, string>> {
  const app = express();
  app.use(use);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  const srv = app.listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`);
    await res.arrayBuffer();
    return Object.fromEntries([...res.headers].filter(([k]) => k !== 'date' && k !== 'etag' && k !== 'keep-alive'));
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
}

describe('securityHeaders', () => {
  for (const [name, opts] of [
    [
      'the server’s options',
      { contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } },
    ],
    ['helmet defaults', {}],
  ] as [string, HelmetOptions][]) {
    it(`${name}: the same headers as helmet, X-Powered-By removed`, async () => {
      const ours = await headersOf(securityHeaders(opts) as express.RequestHandler);
      assert.deepEqual(ours, await headersOf(helmet(opts)));
      assert.ok(ours['content-security-policy'] && ours['strict-transport-security'], JSON.stringify(ours));
      assert.equal(ours['x-powered-by'], undefined);
    });
  }

  it('refuses a CSP directive computed per request (a replay would freeze it)', () => {
    assert.throws(
      () => securityHeaders({ contentSecurityPolicy: { directives: { scriptSrc: [() => "'nonce-abc'"] } } }),
      /computed per request/,
    );
  });
});
