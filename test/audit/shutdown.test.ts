/**
 * SIGTERM under load, through the real server: `Running.close()` (what the SIGTERM handler calls)
 * while many tool calls are in flight. Every call answered 200 must have its audit row; calls that
 * were cut off must not have been answered with a result.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { createAuditKeys } from '../../src/audit/keys.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { startTestServer, TEST_SECRET_KEY, type TestServer } from '../helpers/server.js';
import { existingTenant } from '../helpers/tenant-fixture.js';

describe('shutdown under load loses no audit row', () => {
  let s: TestServer;
  let pool: Pool;
  let tenant: Tenant | undefined;
  before(async () => {
    // 400 concurrent connections from one address: above the default per-client cap, which is not under test here.
    s = await startTestServer({
      RATE_LIMIT_PER_MINUTE: '0',
      AUDIT_LINGER_MS: '2',
      HTTP_MAX_CONNECTIONS_PER_CLIENT: '0',
    });
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
    tenant = await existingTenant(pool, 'acme');
  });
  after(async () => {
    await pool?.end();
    await s?.close();
  });

  it('close() during 400 concurrent calls: every 200 has its audit row, the chain verifies', async () => {
    const token = await s.token({ sub: 'loader' });
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {} },
    });
    const call = async (i: number) => {
      try {
        const res = await fetch(`${s.url}/mcp`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${token}`,
            'x-request-id': `sd-${i}`,
          },
          body,
        });
        const text = await res.text();
        firstAnswer();
        return res.status === 200 && text.includes('"result"') && !text.includes('"isError":true')
          ? `sd-${i}`
          : undefined;
      } catch {
        return undefined; // connection refused or cut: the call was not answered
      }
    };
    let firstAnswer!: () => void;
    const answeredOnce = new Promise<void>((r) => (firstAnswer = r));
    const calls = Array.from({ length: 400 }, (_, i) => call(i));
    await answeredOnce; // close while most calls are still in flight
    const closing = s.running.close();
    const answered = (await Promise.all(calls)).filter((x): x is string => !!x);
    await closing;
    assert.ok(answered.length > 0, 'some calls completed before the shutdown');
    const { rows } = await withTenant(pool, tenant!.schema, (tx) =>
      tx.query<{ request_id: string }>("SELECT request_id FROM audit_log WHERE request_id LIKE 'sd-%'"),
    );
    const stored = new Set(rows.map((r) => r.request_id));
    const missing = answered.filter((id) => !stored.has(id));
    assert.deepEqual(missing, [], 'every answered call was audited');
    assert.equal((await verifyAuditChain(pool, tenant!, { keys: createAuditKeys(TEST_SECRET_KEY) })).ok, true);
  });
});
