/**
 * The identity provider's JWKS endpoint down under load, through the full server: every request
 * carries a FRESH token (JWT_CACHE_SECONDS=0, so each signature is checked against the JWKS cache),
 * the endpoint answers 503 mid-load, and tokens signed with the cached key keep working; a token
 * whose key we never saw cannot be checked and fails closed with 503 naming the provider. Prints the
 * figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { report, tally } from './figures.js';

describe('JWKS endpoint down under load', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0', JWT_CACHE_SECONDS: '0', JWKS_COOLDOWN_SECONDS: '0' });
  });
  after(async () => {
    s?.issuer.setDown(false);
    await s?.close();
  });

  const call = async (token: string): Promise<string> => {
    const res = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    const body = (await res.json()) as { code?: string; error?: { data?: { code?: string } } };
    return res.status === 200 ? 'ok' : `${res.status} ${body.code ?? body.error?.data?.code}`;
  };

  it('cached keys keep every fresh token working; an unseen key fails closed with 503', async (t) => {
    const phases: Record<'up' | 'down' | 'back', string[]> = { up: [], down: [], back: [] };
    let phase: keyof typeof phases = 'up';
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const p = phase;
        phases[p].push(await call(await s.token({ sub: `u${++n}` })));
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => phases.up.length >= 50);
    const fetchesBefore = s.issuer.jwksFetches();
    s.issuer.setDown(true);
    phase = 'down';
    await until(() => phases.down.length >= 150);
    // A token signed with a key the server never fetched (rotation during the outage).
    const unseen = await s.token({ sub: 'rotated' }, { header: { kid: 'never-published' } });
    const unseenOutcome = await call(unseen);
    s.issuer.setDown(false);
    phase = 'back';
    await until(() => phases.back.length >= 50);
    stop = true;
    await Promise.all(workers);

    report(t, 'JWKS endpoint down', {
      calls: phases.up.length + phases.down.length + phases.back.length,
      'before outage': tally(phases.up),
      'during outage': tally(phases.down),
      'after outage': tally(phases.back),
      'unseen kid during outage': unseenOutcome,
      'JWKS fetches served during outage': s.issuer.jwksFetches() - fetchesBefore,
    });
    assert.deepEqual(tally(phases.down), { ok: phases.down.length }, 'cached keys keep working');
    assert.deepEqual(tally(phases.back), { ok: phases.back.length });
    assert.equal(unseenOutcome, '503 ERR_UPSTREAM_UNAVAILABLE');
  });
});
