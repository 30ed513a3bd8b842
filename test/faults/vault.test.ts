/**
 * Vault faults through the full server (start(), TENANTS_FILE, SDK-shaped tools/call over HTTP)
 * against the simulator: HTTP 503, answers slower than VAULT_TIMEOUT_MS, HTTP 429 / API_LIMIT_EXCEEDED.
 * Each fails as a clear tool error naming what Vault did (bounded retries first) and is counted; the
 * next call succeeds without a restart. Then all of them in turn under load, with the figures printed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { postToolCall } from '../helpers/mcp.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';
import { SIM_SECRETS } from '../helpers/vault.js';
import { report, tally } from './figures.js';

describe('Vault faults through the full stack', () => {
  let sim: VaultSimulator;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  let s: TestServer;
  let token: string;

  before(async () => {
    sim = await startVaultSimulator();
    tenantsFile = await writeTenantsFile(simTenants(sim.url));
    s = await startTestServer(
      { TENANTS_FILE: tenantsFile.file, RATE_LIMIT_PER_MINUTE: '0', VAULT_TIMEOUT_MS: '1000', VAULT_MAX_RETRIES: '2' },
      { secrets: SIM_SECRETS },
    );
    token = await s.token({ sub: 'alice', email: 'alice@globex.com' });
    // Log in once, so the faults below hit tool calls, not the login.
    assert.equal((await postToolCall(s.url, token, 'documents_query', {})).body.result?.isError, undefined);
  });
  after(async () => {
    await s?.close();
    await tenantsFile?.remove();
    await sim?.close();
  });

  const call = async () => {
    const r = await postToolCall(s.url, token, 'documents_query', { page_size: 5 });
    assert.equal(r.status, 200, 'a Vault fault is a tool error, not an HTTP failure');
    const text = (r.body.result as { content?: { text: string }[] } | undefined)?.content?.[0]?.text ?? '';
    return { isError: r.body.result?.isError === true, text };
  };

  it('HTTP 503: retried, then ERR_VAULT_UNAVAILABLE naming the status; a short outage is absorbed', async () => {
    sim.setFault({ kind: 'http503', times: 3 });
    const before = sim.counters.requests;
    const r = await call();
    assert.equal(r.isError, true);
    assert.equal(r.text, 'ERR_VAULT_UNAVAILABLE: Vault HTTP_503: Vault answered HTTP 503 3 times');
    assert.equal(sim.counters.requests - before, 3, 'one attempt plus VAULT_MAX_RETRIES=2');
    sim.setFault({ kind: 'http503', times: 1 });
    assert.equal((await call()).isError, false, 'one 503 is retried away');
  });

  it('an answer slower than VAULT_TIMEOUT_MS: ERR_VAULT_UNAVAILABLE TIMEOUT, not retried; then recovers', async () => {
    sim.setFault({ kind: 'delay', times: 1, ms: 1500 });
    const r = await call();
    assert.equal(r.text, 'ERR_VAULT_UNAVAILABLE: Vault TIMEOUT: no answer from Vault within 1000 ms');
    assert.equal((await call()).isError, false);
  });

  it("HTTP 429 and API_LIMIT_EXCEEDED: bounded retries, then ERR_VAULT_RATE_LIMITED naming Vault's rate limit", async () => {
    sim.setFault({ kind: 'http429', times: 3, retryAfterSeconds: 0 });
    const r = await call();
    assert.equal(r.text, 'ERR_VAULT_RATE_LIMITED: Vault HTTP_429: Vault answered HTTP 429 3 times');
    sim.setFault({ kind: 'api_limit_exceeded', times: 3 });
    const limited = await call();
    assert.equal(
      limited.text,
      'ERR_VAULT_RATE_LIMITED: Vault API_LIMIT_EXCEEDED: API limit exceeded; try again later.',
    );
    sim.setFault({ kind: 'http429', times: 2, retryAfterSeconds: 0 });
    assert.equal((await call()).isError, false, 'two 429s are retried away');
  });

  it('faults are counted by type in /metrics, the failed calls as tool errors', async () => {
    const text = await scrape(s.url);
    assert.equal(metricValue(text, 'vault_mcp_vault_errors_total', { tenant: 'globex', type: 'HTTP_503' }), 1);
    assert.equal(metricValue(text, 'vault_mcp_vault_errors_total', { tenant: 'globex', type: 'TIMEOUT' }), 1);
    assert.equal(metricValue(text, 'vault_mcp_vault_errors_total', { tenant: 'globex', type: 'HTTP_429' }), 1);
    assert.equal(
      metricValue(text, 'vault_mcp_vault_errors_total', { tenant: 'globex', type: 'API_LIMIT_EXCEEDED' }),
      1,
    );
    assert.ok(
      metricValue(text, 'vault_mcp_vault_request_duration_seconds_count', { tenant: 'globex', status: '429' }) >= 5,
    );
    assert.ok(
      metricValue(text, 'vault_mcp_vault_request_duration_seconds_count', { tenant: 'globex', status: 'timeout' }) >= 1,
    );
    assert.equal(
      metricValue(text, 'vault_mcp_tool_calls_total', { tool: 'documents_query', tenant: 'globex', outcome: 'error' }),
      4,
    );
    assert.equal(
      metricValue(text, 'vault_mcp_tool_calls_total', { tool: 'documents_query', tenant: 'globex', outcome: 'ok' }),
      4,
    );
  });

  it('under load (12 workers): 503s, 429s and slow answers in turn; every call answers 200 with a result or a clear tool error; then all succeed', async (t) => {
    const outcomes: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const r = await postToolCall(s.url, token, 'documents_query', { page_size: 5 });
        const text = (r.body.result as { content?: { text: string }[] } | undefined)?.content?.[0]?.text ?? '';
        if (r.status !== 200) outcomes.push(`HTTP ${r.status}`);
        else if (r.body.result?.isError)
          outcomes.push(/^(ERR_[A-Z_]+): Vault ([A-Z_0-9]+)/.exec(text)?.slice(1).join(' ') ?? text);
        else outcomes.push('ok');
      }
    };
    const workers = Array.from({ length: 12 }, worker);
    const faults = [
      { kind: 'http503', times: 60 },
      { kind: 'http429', times: 60, retryAfterSeconds: 0 },
      { kind: 'delay', times: 12, ms: 1500 },
    ] as const;
    for (const f of faults) {
      const start = sim.counters.requests;
      sim.setFault(f);
      while (sim.counters.requests - start < f.times) await new Promise((r) => setTimeout(r, 20));
    }
    sim.setFault(null);
    const faultEnd = outcomes.length;
    await new Promise((r) => setTimeout(r, 1500)); // calls in flight drain; the rest must succeed
    const settled = outcomes.length;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(workers);
    const counts = tally(outcomes);
    report(t, 'Vault 5xx/429/slow under load', {
      calls: outcomes.length,
      outcomes: counts,
      'calls during faults': faultEnd,
      'after recovery': tally(outcomes.slice(settled)),
    });
    assert.deepEqual(
      Object.keys(counts).filter(
        (k) =>
          ![
            'ok',
            'ERR_VAULT_UNAVAILABLE HTTP_503',
            'ERR_VAULT_RATE_LIMITED HTTP_429',
            'ERR_VAULT_UNAVAILABLE TIMEOUT',
          ].includes(k),
      ),
      [],
      'only successes and the expected tool errors, never an HTTP failure',
    );
    for (const k of [
      'ERR_VAULT_UNAVAILABLE HTTP_503',
      'ERR_VAULT_RATE_LIMITED HTTP_429',
      'ERR_VAULT_UNAVAILABLE TIMEOUT',
    ])
      assert.ok((counts[k] ?? 0) > 0, `saw ${k}`);
    const tail = outcomes.slice(settled);
    assert.ok(tail.length > 0 && tail.every((o) => o === 'ok'), `after the faults: ${JSON.stringify(tally(tail))}`);
  });
});
