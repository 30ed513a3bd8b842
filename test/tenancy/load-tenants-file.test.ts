import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors/index.js';
import { listTenants, loadTenantsFile } from '../../src/tenancy/index.js';
import { startTestServer, writeTenantsFile } from '../helpers/server.js';
import { createTenantDb, tenantInput, type TenantDb } from '../helpers/tenants.js';

describe('TENANTS_FILE', () => {
  let t: TenantDb;
  const files: { remove(): Promise<void> }[] = [];
  const write = async (content: unknown) => {
    const f = await writeTenantsFile(content);
    files.push(f);
    return f.file;
  };
  before(async () => {
    t = await createTenantDb();
  });
  after(async () => {
    await t?.close();
    for (const f of files) await f.remove();
  });

  it('upserts every tenant of a good file', async () => {
    const file = await write({
      tenants: [tenantInput('one', ['one.com']), tenantInput('two', ['two.com'], { includeSubdomains: true })],
    });
    const done = await loadTenantsFile(t.pool, file, t.deps);
    assert.deepEqual(
      done.map((d) => [d.id, d.created]),
      [
        ['one', true],
        ['two', true],
      ],
    );
    const again = await loadTenantsFile(t.pool, file, t.deps);
    assert.deepEqual(
      again.map((d) => d.created),
      [false, false],
    );
  });

  it('lists every schema problem at once, with its path', async () => {
    const file = await write({
      tenants: [
        {
          id: 'Bad Id',
          domains: ['ok.com'],
          vault: { url: 'https://x.veevavault.com', auth: { mode: 'service_account', username: 'u' } },
        },
        { id: 'ok', domains: ['not a domain'], vault: { url: 'ftp://x', auth: { mode: 'magic' } } },
      ],
      extra: true,
    });
    const err = await loadTenantsFile(t.pool, file, t.deps).then(
      () => assert.fail('should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const needle of [
      'tenants.0.id',
      'tenants.1.domains.0',
      'tenants.1.vault.url',
      'tenants.1.vault.auth.mode',
      'extra',
    ])
      assert.ok(text.includes(needle), `${needle} missing from:\n${text}`);
  });

  it('refuses conflicts (duplicate ids, shared domains, public domains, domains owned in the DB) and changes nothing', async () => {
    const before = (await listTenants(t.pool, { includeRemoved: true })).map((x) => x.id);
    const file = await write({
      tenants: [
        tenantInput('new-one', ['new-one.com']),
        tenantInput('dup', ['dup.com']),
        tenantInput('dup', ['dup2.com']),
        tenantInput('share-a', ['shared.com']),
        tenantInput('share-b', ['shared.com']),
        tenantInput('web', ['gmail.com']),
      ],
    });
    const err = await loadTenantsFile(t.pool, file, t.deps).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 3, err.message);
    assert.match(err.message, /"dup" is listed twice/);
    assert.match(err.message, /"shared\.com" is claimed by both/);
    assert.match(err.message, /"gmail\.com" is a public email domain/);
    // Stealing a domain another tenant owns in the database: refused after the new tenant was created
    // in the same transaction, which must be rolled back.
    const steal = await write({
      tenants: [tenantInput('new-two', ['new-two.com']), tenantInput('thief', ['one.com'])],
    });
    const err2 = await loadTenantsFile(t.pool, steal, t.deps).catch((e: unknown) => e);
    assert.ok(err2 instanceof ConfigError);
    assert.match(err2.message, /"one\.com" already belongs to tenant "one"/);
    assert.deepEqual(
      (await listTenants(t.pool, { includeRemoved: true })).map((x) => x.id),
      before,
    );
  });

  it('reports unreadable and non-JSON files', async () => {
    await assert.rejects(
      loadTenantsFile(t.pool, '/nonexistent/tenants.json', t.deps),
      (e) => e instanceof ConfigError && /ENOENT/.test(e.message),
    );
    await assert.rejects(
      loadTenantsFile(t.pool, await write('{"tenants": ['), t.deps),
      (e) => e instanceof ConfigError && /not valid JSON/.test(e.message),
    );
  });

  it('a bad file stops the server boot with a ConfigError', async () => {
    const file = await write({ tenants: [tenantInput('web', ['gmail.com'])] });
    await assert.rejects(
      startTestServer({ TENANTS_FILE: file }),
      (e) => e instanceof ConfigError && /TENANTS_FILE: domain "gmail\.com"/.test(e.message),
    );
  });
});
