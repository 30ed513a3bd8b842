/**
 * Per-tool scopes: tools/list shows only what the caller may call, and calling a tool without its
 * scopes is answered 403 insufficient_scope with the scopes to request (MCP step-up). Uses the real
 * app with a tool that needs vault:write, the SDK client and raw fetch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { createTokenVerifier } from '../../src/auth/create-verifier.js';
import { createOidcVerifier } from '../../src/auth/oidc-verifier.js';
import { loadConfig } from '../../src/config/index.js';
import { parseSchemaName } from '../../src/db/schema-name.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { createApp } from '../../src/http/app.js';
import { listen, type HttpHandle } from '../../src/http/listen.js';
import { createLogger } from '../../src/log/index.js';
import { defineTool } from '../../src/mcp/tool.js';
import { whoami } from '../../src/mcp/tools/whoami.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { parseChallenge, postWithToken } from '../helpers/http.js';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { freePort } from '../helpers/server.js';

const readTool = defineTool({
  name: 'documents_get',
  title: 'Get a document',
  description: 'test tool',
  scopes: ['vault:read'],
  input: { id: z.string() },
  run: async ({ id }) => ({ value: { id } }),
});
const writeTool = defineTool({
  name: 'documents_update',
  title: 'Update a document',
  description: 'test tool',
  scopes: ['vault:read', 'vault:write'],
  input: { id: z.string() },
  run: async ({ id }) => ({ value: { updated: id } }),
});

/** A fixed tenant: this test is about scopes, not tenant resolution. */
const TENANT: Tenant = {
  id: 'acme',
  name: 'Acme',
  schema: parseSchemaName('t_0123456789abcdef0123456789abcdef'),
  vault: {
    url: 'https://acme.veevavault.com',
    apiVersion: 'v25.2',
    auth: { mode: 'service_account', username: 'bot@acme.com' },
  },
};

const call = (name: string) => ({
  jsonrpc: '2.0',
  id: 2,
  method: 'tools/call',
  params: { name, arguments: { id: 'D-1' } },
});

describe('per-tool scopes and step-up', () => {
  let issuer: DevIssuer;
  let http: HttpHandle;
  let url: string;
  let resource: string;
  before(async () => {
    issuer = await startDevIssuer();
    const port = await freePort();
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(port),
      OIDC_ISSUER: issuer.issuer,
      LOG_LEVEL: 'silent',
    });
    resource = config.resource;
    const verifier = createTokenVerifier({
      jwt: [createOidcVerifier({ ...config.auth.oidc!, clockSkewSeconds: 30 })],
      maxTokenBytes: config.auth.maxTokenBytes,
    });
    const app = createApp({
      config,
      log: createLogger({ level: 'silent' }),
      verifier,
      tools: [whoami, readTool, writeTool],
      authorizationServers: [issuer.issuer],
      resolveTenant: async () => TENANT,
      readiness: async () => ({ ready: true }),
    });
    http = await listen(app, { port, host: '127.0.0.1' });
    url = http.url;
  });
  after(async () => {
    await http?.close(100);
    await issuer?.close();
  });

  const token = (scope: string) =>
    issuer.mint({ sub: 'u1', aud: resource, email: 'qa@acme.com', email_verified: true, scope });

  it('tools/list shows only the tools the caller may call', async () => {
    const names = async (scope: string) => {
      const client = await connectClient(url, await token(scope));
      const { tools } = await client.listTools();
      await client.close();
      return tools.map((t) => t.name).sort();
    };
    assert.deepEqual(await names(''), ['whoami']);
    assert.deepEqual(await names('vault:read'), ['documents_get', 'whoami']);
    assert.deepEqual(await names('vault:read vault:write'), ['documents_get', 'documents_update', 'whoami']);
  });

  it('calling a tool without its scope: 403 insufficient_scope naming the scopes to request', async () => {
    const res = await postWithToken(url, await token('vault:read'), call('documents_update'));
    assert.equal(res.status, 403);
    const c = parseChallenge(res.headers.get('www-authenticate'));
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'vault:read vault:write');
    assert.equal(c.error_description, "The tool 'documents_update' needs the scope(s) vault:read vault:write");
    assert.equal(c.resource_metadata, `${url}/.well-known/oauth-protected-resource/mcp`);
    const body = (await res.json()) as { error: string; code: string };
    assert.equal(body.error, 'insufficient_scope');
    assert.equal(body.code, 'ERR_AUTH_INSUFFICIENT_SCOPE');
  });

  it('the SDK client sees the refusal; after step-up (a token with the scope) the call succeeds', async () => {
    const low = await connectClient(url, await token('vault:read'));
    await assert.rejects(
      low.callTool({ name: 'documents_update', arguments: { id: 'D-1' } }),
      /403|insufficient_scope/,
    );
    await low.close();
    const high = await connectClient(url, await token('vault:read vault:write'));
    assert.deepEqual(toolJson(await high.callTool({ name: 'documents_update', arguments: { id: 'D-1' } })), {
      updated: 'D-1',
    });
    await high.close();
  });

  it('a batch hiding a forbidden call is refused as a whole', async () => {
    const res = await postWithToken(url, await token('vault:read'), [
      call('documents_get'),
      { ...call('documents_update'), id: 3 },
    ]);
    assert.equal(res.status, 403);
  });

  it('answers CORS preflights for browser clients without allowing credentials, and exposes WWW-Authenticate', async () => {
    const pre = await fetch(`${url}/mcp`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://inspector.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-headers')!, /Authorization/);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
    const res = await postWithToken(url, 'garbage');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('access-control-expose-headers')!, /WWW-Authenticate/);
  });
});
