/**
 * API keys: created with the real functions and the CLI, verified over real HTTP against real Postgres.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createApiKeyVerifier } from '../../src/auth/api-key-verifier.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../src/auth/api-keys.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { AppError } from '../../src/errors/index.js';
import { assert401, postWithToken } from '../helpers/http.js';
import { callWhoami } from '../helpers/mcp.js';
import { DEFAULT_TEST_TENANTS, startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

describe('API keys', () => {
  let s: TestServer;
  let pool: Pool;
  let tenantsFile: Awaited<ReturnType<typeof writeTenantsFile>>;
  before(async () => {
    // Two provisioned tenants (schema, tables, role), as the server creates them from its tenants file.
    const globex = {
      id: 'globex',
      domains: ['globex.com'],
      vault: { url: 'https://globex.veevavault.com', auth: { mode: 'service_account', username: 'bot@globex.com' } },
    };
    tenantsFile = await writeTenantsFile({ tenants: [...DEFAULT_TEST_TENANTS.tenants, globex] });
    s = await startTestServer({ TENANTS_FILE: tenantsFile.file, API_KEY_LAST_USED_SECONDS: '1' });
    pool = createPool({ url: s.db.url, max: 2, statementTimeoutMs: 5000 });
  });
  after(async () => {
    await pool?.end();
    await s?.close();
    await tenantsFile?.remove();
  });

  const whoami = (key: string) => callWhoami(s.url, key);

  it('a service key authenticates as itself, bound to its tenant, with its scopes', async () => {
    const { key, info } = await createApiKey(pool, {
      tenantId: 'acme',
      name: 'nightly etl',
      scopes: ['vault:read', 'vault:vql'],
    });
    assert.match(key, /^vmcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const me = await whoami(key);
    assert.equal(me.provider, 'api-key');
    assert.equal(me.subject, `api-key:${info.id}`);
    assert.equal(me.actor, `api-key:${info.id}`);
    assert.deepEqual(me.scopes, ['vault:read', 'vault:vql']);
    const user = await createApiKeyVerifier({ pool, issuer: s.url }).verify(key);
    assert.equal(user.tenantId, 'acme');
  });

  it('an act-as key records the key as actor and the named user as subject', async () => {
    const { key, info } = await createApiKey(pool, {
      tenantId: 'acme',
      name: 'ci bot',
      scopes: ['vault:read'],
      actAs: 'QA.Lead@acme.com',
    });
    const me = await whoami(key);
    assert.equal(me.subject, 'qa.lead@acme.com');
    assert.equal(me.user, 'qa.lead@acme.com');
    assert.equal(me.actor, `api-key:${info.id}`);
  });

  it('stores only a SHA-256 of the secret', async () => {
    const { key, info } = await createApiKey(pool, { tenantId: 'acme', name: 'hash check', scopes: ['vault:read'] });
    const secret = key.slice(`vmcp_${info.id}_`.length);
    const row = (await pool.query('SELECT * FROM control.api_keys WHERE id = $1', [info.id])).rows[0];
    assert.ok(!JSON.stringify(row).includes(secret));
    assert.deepEqual(row.secret_sha256, createHash('sha256').update(secret).digest());
  });

  it('refuses a wrong secret for a real id, a revoked key within a second, and an expired key', async () => {
    const { key, info } = await createApiKey(pool, { tenantId: 'acme', name: 'to revoke', scopes: ['vault:read'] });
    const wrong = `vmcp_${info.id}_${randomBytes(32).toString('base64url')}`;
    await assert401(await postWithToken(s.url, wrong), 'The API key is not valid');
    assert.equal((await postWithToken(s.url, key)).status, 200);
    await revokeApiKey(pool, info.id);
    // Verified keys are cached; the revocation reaches the server through NOTIFY (test/auth/api-key-cache).
    const t0 = Date.now();
    while ((await postWithToken(s.url, key)).status === 200 && Date.now() - t0 < 1000)
      await new Promise((r) => setTimeout(r, 10));
    await assert401(await postWithToken(s.url, key), `The API key ${info.id} has been revoked`);

    const exp = await createApiKey(pool, { tenantId: 'acme', name: 'short', scopes: ['vault:read'], expiresDays: 1 });
    await pool.query("UPDATE control.api_keys SET expires_at = '2020-01-01T00:00:00Z' WHERE id = $1", [exp.info.id]);
    await assert401(
      await postWithToken(s.url, exp.key),
      `The API key ${exp.info.id} expired at 2020-01-01T00:00:00.000Z`,
    );
  });

  it('lists keys per tenant without secrets and records last use (written off the request path)', async () => {
    const { key, info } = await createApiKey(pool, { tenantId: 'globex', name: 'globex svc', scopes: ['vault:read'] });
    const before = Date.now();
    await postWithToken(s.url, key);
    // last_used_at is collected in memory and written every API_KEY_LAST_USED_SECONDS (1 s here).
    let keys = await listApiKeys(pool, 'globex');
    for (let i = 0; i < 40 && !keys[0]?.lastUsedAt; i++) {
      await new Promise((r) => setTimeout(r, 100));
      keys = await listApiKeys(pool, 'globex');
    }
    assert.deepEqual(
      keys.map((k) => k.id),
      [info.id],
    );
    assert.ok(keys[0]!.lastUsedAt instanceof Date);
    assert.ok(keys[0]!.lastUsedAt.getTime() >= before - 1000, 'the time of the call, not of the flush');
    assert.ok(!('secret_sha256' in keys[0]!) && !JSON.stringify(keys).includes(key.slice(-43)));
  });

  it('validates input: unknown tenant, no scopes, bad act-as', async () => {
    await assert.rejects(
      createApiKey(pool, { tenantId: 'nope', name: 'x', scopes: ['vault:read'] }),
      (e: unknown) => e instanceof AppError && e.code === 'ERR_TENANT_NOT_FOUND',
    );
    await assert.rejects(createApiKey(pool, { tenantId: 'acme', name: 'x', scopes: [] }), /scopes: at least one scope/);
    await assert.rejects(
      createApiKey(pool, { tenantId: 'acme', name: 'x', scopes: ['vault:read'], actAs: 'not an email' }),
      /actAs/,
    );
    await assert.rejects(
      revokeApiKey(pool, 'ffffffffffffffff'),
      (e: unknown) => e instanceof AppError && e.code === 'ERR_NOT_FOUND',
    );
  });

  it('the CLI creates, lists and revokes keys (env read through loadConfig)', async () => {
    const env = { ...process.env, DATABASE_URL: s.db.url, NODE_ENV: 'test', LOG_LEVEL: 'silent' };
    const cli = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/api-keys.ts', ...args], { env });
    const created = await cli(
      'create',
      '--tenant',
      'globex',
      '--name',
      'from cli',
      '--scopes',
      'vault:read,vault:write',
      '--act-as',
      'ops@globex.com',
      '--expires-days',
      '30',
    );
    const key = /^(vmcp_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(key, created.stdout);
    const me = await whoami(key);
    assert.deepEqual(me.scopes, ['vault:read', 'vault:write']);
    const id = key.slice(5, 21);
    assert.match(
      (await cli('list', '--tenant', 'globex')).stdout,
      new RegExp(`${id}  active .*from cli.*act-as=ops@globex.com`),
    );
    assert.match((await cli('revoke', id)).stdout, new RegExp(`revoked API key ${id}`));
    await assert401(await postWithToken(s.url, key), `The API key ${id} has been revoked`);
    await assert.rejects(
      cli('create', '--tenant', 'globex'),
      (e: { code: number; stderr: string }) => e.code === 64 && /needs --tenant, --name and --scopes/.test(e.stderr),
    );
  });
});
