/**
 * `oauth` mode end to end: the real server exchanges the caller's MCP token (RFC 8693) at the tenant's
 * token endpoint (the dev issuer, with a confidential client) for a Vault-audience token, and only that
 * token reaches the simulator's OAuth session endpoint. The MCP token never reaches Vault, nor a log line.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { decodeJwt } from 'jose';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { startVaultSimulator, type VaultSimulator } from '../../src/dev/vault-sim/server.js';
import { isAppError } from '../../src/errors/index.js';
import { subjectToken, withSubjectToken } from '../../src/context/call-context.js';
import { createTokenExchange } from '../../src/vault/token-exchange.js';
import { connectClient, toolJson } from '../helpers/mcp.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { canarySeed, ctxFor, makeTenant, SA_AUTH } from '../helpers/vault.js';

type ToolResult = { isError?: boolean; content: { text: string }[] };

const CLIENT_ID = 'vault-mcp-hooli';
const CLIENT_SECRET = 'hooli-client-secret-0123456789';
const SPECIALIST = 'qa.specialist@hooli.com';
const MANAGER = 'qa.manager@hooli.com';

describe('oauth mode: RFC 8693 token exchange, end to end', () => {
  let issuer: DevIssuer;
  let sim: VaultSimulator;
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  const logs: string[] = [];
  const clients: Client[] = [];
  const mcpTokens: string[] = [];

  const connect = async (email: string) => {
    const token = await s.token({ sub: email.split('@')[0], email, scope: 'vault:read' });
    mcpTokens.push(token);
    const c = await connectClient(s.url, token);
    clients.push(c);
    return { c, token };
  };
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) =>
    (await c.callTool({ name, arguments: args })) as ToolResult;

  before(async () => {
    issuer = await startDevIssuer({ clients: { [CLIENT_ID]: CLIENT_SECRET } });
    sim = await startVaultSimulator({
      seed: canarySeed({
        mark: 'HOOLI',
        domain: 'hooli.com',
        password: 'unused',
        docId: 7_900_001,
        recordId: 'V0D00000000H901',
      }),
      oauth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri },
      recordRequests: true,
    });
    const oauth = (extra: Record<string, string>) => ({
      url: sim.url,
      auth: {
        mode: 'oauth',
        profileId: 'hooli-okta',
        clientId: CLIENT_ID,
        tokenEndpoint: `${issuer.baseUrl}/token`,
        ...extra,
      },
    });
    file = await writeTenantsFile({
      tenants: [
        { id: 'hooli', domains: ['hooli.com'], vault: oauth({ clientSecretEnv: 'HOOLI_OAUTH_CLIENT_SECRET' }) },
        {
          id: 'piedpiper',
          domains: ['piedpiper.com'],
          vault: oauth({ clientSecretEnv: 'PIEDPIPER_OAUTH_CLIENT_SECRET' }),
        },
        { id: 'aviato', domains: ['aviato.com'], vault: oauth({ clientSecretEnv: 'AVIATO_OAUTH_CLIENT_SECRET' }) },
        {
          id: 'raviga',
          domains: ['raviga.com'],
          vault: oauth({ clientSecretEnv: 'HOOLI_OAUTH_CLIENT_SECRET', tokenEndpoint: `${sim.url}/token` }),
        },
      ],
    });
    const logTo = new PassThrough();
    logTo.on('data', (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    s = await startTestServer(
      { TENANTS_FILE: file.file, LOG_LEVEL: 'debug' },
      // PIEDPIPER_OAUTH_CLIENT_SECRET is deliberately unset; aviato's secret is wrong.
      {
        issuer,
        logTo,
        secrets: { HOOLI_OAUTH_CLIENT_SECRET: CLIENT_SECRET, AVIATO_OAUTH_CLIENT_SECRET: 'wrong-secret' },
      },
    );
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await s?.close();
    await file?.remove();
    await sim?.close();
    await issuer?.close();
  });

  it("each user's Vault session comes from an exchanged Vault-audience token; the MCP token never reaches Vault", async () => {
    const spec = await connect(SPECIALIST);
    const mgr = await connect(MANAGER);
    const ids = async (c: Client) =>
      toolJson(await call(c, 'documents_query', { order_by: 'id', page_size: 50 })).documents.map(
        (d: { id: number }) => d.id,
      );
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await ids(spec.c), [101, 103, 106, 107, 7_900_001]); // Boston-site documents and the one shared with him
      assert.equal((await ids(mgr.c)).length, 9);
    }
    const me = toolJson(await call(spec.c, 'whoami'));
    assert.deepEqual(me.vaultUser, {
      id: '1002',
      username: SPECIALIST,
      email: SPECIALIST,
      mode: 'oauth',
      vault: sim.url,
    });

    // One exchange and one OAuth login per user (the session is reused), by our confidential client.
    const exchanges = issuer.exchanges();
    assert.deepEqual(
      exchanges.map((e) => [e.clientId, e.audience]),
      [
        [CLIENT_ID, sim.url],
        [CLIENT_ID, sim.url],
      ],
    );
    assert.deepEqual(new Set(exchanges.map((e) => e.subjectToken)), new Set([spec.token, mgr.token]));
    assert.deepEqual(sim.counters.oauthLogins, { [SPECIALIST]: 1, [MANAGER]: 1 });
    // Vault's OAuth endpoint received exactly the exchanged tokens: audience Vault, same user, acting client named.
    assert.deepEqual(new Set(sim.counters.oauthTokensSeen), new Set(exchanges.map((e) => e.issuedToken)));
    for (const e of exchanges) {
      const claims = decodeJwt(e.issuedToken);
      assert.equal(claims.aud, sim.url);
      assert.deepEqual(claims.act, { sub: CLIENT_ID });
      assert.equal(claims.sub, decodeJwt(e.subjectToken).sub);
    }
    // Neither MCP token appears anywhere in what Vault received (headers or bodies), nor in any log line.
    const received = sim.requests();
    assert.ok(received.length > 0);
    for (const token of mcpTokens) {
      for (const r of received)
        assert.ok(
          !(r.authorization ?? '').includes(token) && !r.body.includes(token),
          `Vault received the MCP token on ${r.method} ${r.path}`,
        );
      for (const l of logs) assert.ok(!l.includes(token), `log line carries the MCP token: ${l}`);
    }
    for (const e of exchanges)
      for (const l of logs) assert.ok(!l.includes(e.issuedToken), `log line carries the Vault token: ${l}`);
  });

  it('the simulated OAuth profile refuses the MCP token itself (its audience is not Vault), so the test above is not vacuous', async () => {
    const res = await fetch(`${sim.url}/auth/oauth/session/hooli-okta`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mcpTokens[0]}` },
    });
    const body = (await res.json()) as { responseStatus: string; errors: { type: string }[] };
    assert.equal(body.responseStatus, 'FAILURE');
    assert.equal(body.errors[0]!.type, 'INVALID_SESSION_ID');
  });

  it('an unset client secret variable is a tool error naming the config key; nothing is exchanged', async () => {
    const { c } = await connect('qa.manager@piedpiper.com');
    const before = issuer.exchanges().length;
    const r = await call(c, 'documents_query');
    assert.equal(r.isError, true);
    assert.equal(
      r.content[0]!.text,
      'ERR_VAULT_AUTH: Tenant piedpiper: the environment variable PIEDPIPER_OAUTH_CLIENT_SECRET (vault.auth.clientSecretEnv) is not set',
    );
    assert.equal(issuer.exchanges().length, before);
  });

  it("a refused exchange is a tool error with the identity provider's error", async () => {
    const { c } = await connect('qa.manager@aviato.com');
    const r = await call(c, 'documents_query');
    assert.equal(r.isError, true);
    assert.match(
      r.content[0]!.text,
      /^ERR_VAULT_AUTH: Tenant aviato: the token exchange at the token endpoint 127\.0\.0\.1:\d+ \(vault\.auth\.tokenEndpoint\) was refused: invalid_client: client authentication failed$/,
    );
  });

  it('a token endpoint on the Vault itself is refused before anything is sent', async () => {
    const { c } = await connect('qa.manager@raviga.com');
    const before = sim.requests().length;
    const r = await call(c, 'documents_query');
    assert.equal(r.isError, true);
    assert.match(r.content[0]!.text, /^ERR_VAULT_AUTH: Tenant raviga: vault\.auth\.tokenEndpoint points at Vault/);
    assert.equal(sim.requests().length, before);
  });

  it('only IdP JWTs are exchanged: API keys and other providers are refused by name', async () => {
    const tenant = makeTenant(sim.url, {
      mode: 'oauth',
      profileId: 'p',
      clientId: CLIENT_ID,
      tokenEndpoint: `${issuer.baseUrl}/token`,
    });
    const exchange = createTokenExchange({ secrets: () => undefined });
    for (const provider of ['api-key', 'github', 'google'] as const) {
      const ctx = withSubjectToken(ctxFor(tenant, MANAGER), 'some-token');
      ctx.user.provider = provider;
      await assert.rejects(
        exchange(ctx, tenant),
        (e: unknown) =>
          isAppError(e) && e.code === 'ERR_VAULT_AUTH' && e.message.includes(`not a ${provider} credential`),
      );
    }
  });

  it('the subject token is kept only for oauth tenants, and never serialised, inspected or copied with the context', () => {
    const secret = 'eyJ-the-raw-bearer-token';
    const oauthTenant = makeTenant(sim.url, { mode: 'oauth', profileId: 'p' });
    const ctx = withSubjectToken(ctxFor(oauthTenant, MANAGER), secret);
    assert.equal(subjectToken(ctx), secret);
    assert.ok(!JSON.stringify(ctx).includes(secret));
    assert.ok(!inspect(ctx, { depth: 10 }).includes(secret));
    assert.equal(subjectToken({ ...ctx }), undefined);
    assert.equal(subjectToken(withSubjectToken(ctxFor(makeTenant(sim.url, SA_AUTH), MANAGER), secret)), undefined);
  });
});
