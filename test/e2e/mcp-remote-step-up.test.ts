/**
 * Step-up with the real mcp-remote (issue 11): a user signed in with `vault:read` only calls
 * `documents_update` (needs `vault:write`); the server answers HTTP 403 `insufficient_scope` with
 * `scope="vault:read vault:write"`. What the client does then depends on its version:
 *
 * - mcp-remote ≥ 0.15 (our devDependency) steps up: it opens the browser again asking for the union
 *   of what it holds and what the challenge names, and retries the call after the user allows it.
 * - mcp-remote 0.1.38 (still in many configs) silently refreshes its token (a refresh cannot widen
 *   the scope), gets the same 403, throws "Server returned 403 after trying upscoping" inside the
 *   proxy, logs it on stderr and never answers the JSON-RPC request: the client waits until its own
 *   request timeout. That hang is what a STEP_UP_MODE=tool_error fallback is for (see the skipped
 *   suite at the end, ready for when the flag exists).
 *
 * Every wait is bounded: a hang is asserted as data (`settleWithin`) or fails the test, never blocks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { QA_MANAGER, SIM_PASSWORD } from '../../src/dev/vault-sim/seed.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import type { Env } from '../../src/config/index.js';
import { toolJson } from '../helpers/mcp.js';
import {
  connectMcpRemote,
  MCP_REMOTE_0_1_38,
  PINNED_MCP_REMOTE,
  settleWithin,
  within,
  type McpRemote,
  type McpRemoteOptions,
} from '../helpers/mcp-remote.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { simTenants } from '../helpers/sim-tenants.js';

const UPDATE = { name: 'documents_update', arguments: { id: 101, fields: { title__v: 'SOP (step-up)' } } };

/** A server with the authorization server on, the dev issuer upstream and the Vault simulator. */
function stepUpFixture(env: Env = {}) {
  const f = {} as { issuer: DevIssuer; sim: VaultSimulator; s: TestServer; remove(): Promise<void> };
  before(async () => {
    f.issuer = await startDevIssuer({ users: [{ sub: 'qa.manager', email: QA_MANAGER, email_verified: true }] });
    f.sim = await startVaultSimulator({ recordRequests: true });
    const tenants = await writeTenantsFile(simTenants(f.sim.url));
    f.remove = () => tenants.remove();
    f.s = await startTestServer(
      {
        OAUTH_SERVER_ENABLED: 'true',
        OIDC_CLIENT_ID: 'vault-mcp-dev',
        OAUTH_DCR_PER_HOUR: '0',
        TENANTS_FILE: tenants.file,
        ...env,
      },
      { issuer: f.issuer, secrets: { ACME_VAULT_PASSWORD: SIM_PASSWORD } },
    );
  });
  after(async () => {
    await f.s?.close();
    await f.issuer?.close();
    await f.sim?.close();
    await f.remove?.();
  });
  return f;
}

/** mcp-remote signed in read-only (the first consent grants vault:read only). */
async function readOnlyRemote(s: TestServer, opts: McpRemoteOptions = {}): Promise<McpRemote> {
  const remote = await connectMcpRemote(s.resource, { firstScope: 'vault:read', ...opts });
  const me = toolJson(await remote.client.callTool({ name: 'whoami', arguments: {} }));
  assert.deepEqual(me.scopes, ['vault:read'], 'the first sign-in granted read only');
  return remote;
}

async function withDiagnostics<T>(remote: McpRemote, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await remote.diagnostics()}`, { cause: e });
  } finally {
    await remote.close();
  }
}

describe('step-up with mcp-remote (server default: HTTP 403 insufficient_scope)', () => {
  const f = stepUpFixture();

  it('the server answers a read-only token 403 insufficient_scope with the scopes to ask for', async () => {
    const token = await f.s.token({ email: QA_MANAGER, scope: 'vault:read' });
    const res = await fetch(f.s.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: UPDATE }),
    });
    assert.equal(res.status, 403);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="vault:read vault:write"/);
    assert.match(challenge, /resource_metadata="/);
  });

  it(`mcp-remote (devDependency) steps up: a second browser sign-in for vault:write, then the call succeeds`, async () => {
    const remote = await readOnlyRemote(f.s, { proxyPath: PINNED_MCP_REMOTE });
    await withDiagnostics(remote, async () => {
      const updated = toolJson(await within(20_000, 'documents_update with step-up', remote.client.callTool(UPDATE)));
      assert.deepEqual(updated.fields, ['title__v']);
      assert.equal(updated.updated.id, 101);
      const log = await remote.browserLog();
      assert.match(log, /open #2 scope="vault:read vault:write"/, 'the step-up asked for the union of scopes');
      const me = toolJson(await remote.client.callTool({ name: 'whoami', arguments: {} }));
      assert.deepEqual([...me.scopes].sort(), ['vault:read', 'vault:write']);
    });
  });

  it('mcp-remote (devDependency): the user denies the step-up; the call fails (no hang) and nothing changed', async () => {
    const writes = () => f.sim.requests().filter((r) => r.method === 'PUT').length;
    const writesBefore = writes();
    const remote = await readOnlyRemote(f.s, { proxyPath: PINNED_MCP_REMOTE, decision: ['approve', 'deny'] });
    await withDiagnostics(remote, async () => {
      const r = await settleWithin(20_000, remote.client.callTool(UPDATE));
      assert.equal(r.state, 'failed', 'a denied step-up must end the call, not hang the client');
      assert.match(r.error.message, /access_denied/);
      assert.match(await remote.browserLog(), /open #2 .*decision=deny/);
      assert.equal(writes(), writesBefore, 'no write reached Vault');
    });
  });

  it('mcp-remote 0.1.38 cannot step up: it logs "403 after trying upscoping" and never answers the call', async () => {
    const remote = await readOnlyRemote(f.s, { proxyPath: MCP_REMOTE_0_1_38 });
    await withDiagnostics(remote, async () => {
      const call = remote.client.callTool(UPDATE, undefined, { timeout: 60_000 });
      call.catch(() => undefined); // it dies with the client
      await within(
        15_000,
        '0.1.38 giving up on the 403',
        remote.stderrIncludes('Server returned 403 after trying upscoping'),
      );
      const r = await settleWithin(3_000, call);
      assert.equal(r.state, 'pending', 'the refused call is never answered: the client hangs until its own timeout');
      assert.match(await remote.browserLog(), /open #1/);
      assert.doesNotMatch(await remote.browserLog(), /open #2/, '0.1.38 never opens the browser to step up');
    });
  });
});

/**
 * The fallback for clients that cannot step up: STEP_UP_MODE=tool_error answers a tools/call that
 * lacks scopes with HTTP 200 and a tool error (`isError: true`) naming the scope, instead of HTTP 403.
 */
describe('STEP_UP_MODE=tool_error: a client that cannot step up gets a tool error naming the scope', () => {
  const f = stepUpFixture({ STEP_UP_MODE: 'tool_error' });

  it('raw HTTP: 200 with a JSON-RPC result isError=true naming vault:write; no write reached Vault', async () => {
    const token = await f.s.token({ email: QA_MANAGER, scope: 'vault:read' });
    const res = await fetch(f.s.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: UPDATE }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: { isError: boolean; content: { text: string }[] } };
    assert.equal(body.result.isError, true);
    assert.match(body.result.content[0]!.text, /vault:write/);
    assert.equal(f.sim.requests().filter((r) => r.method === 'PUT').length, 0);
  });

  it('mcp-remote 0.1.38 gets the tool error at once instead of hanging', async () => {
    const remote = await readOnlyRemote(f.s, { proxyPath: MCP_REMOTE_0_1_38 });
    await withDiagnostics(remote, async () => {
      const r = await settleWithin(10_000, remote.client.callTool(UPDATE));
      assert.equal(r.state, 'answered', 'no hang');
      const result = (r as { value: { isError?: boolean; content: { text: string }[] } }).value;
      assert.equal(result.isError, true);
      assert.match(result.content[0]!.text, /needs the scope vault:write/);
      assert.match(result.content[0]!.text, /sign in again/i);
      // The rest of the connection keeps working.
      const me = toolJson(await remote.client.callTool({ name: 'whoami', arguments: {} }));
      assert.deepEqual(me.scopes, ['vault:read']);
    });
  });
});
