/**
 * `npm run tenants -- add … --idp-*`: a tenant's own sign-in IdP through the admin CLI, as an
 * administrator runs it (a child process): stored, listed, validated (bad issuer, secret given as a
 * value instead of an env var name), and removed again by an update without the flags.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createTenantDb, type TenantDb } from '../helpers/tenants.js';

const run = promisify(execFile);

async function tenants(args: string[], env: Record<string, string>) {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/tenants.ts', ...args], {
      env: { ...process.env, NODE_ENV: 'test', ...env },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const base = [
  'add',
  'idp-co',
  '--domain',
  'idp-co.example',
  '--vault-url',
  'https://idp-co.veevavault.com',
  '--auth-mode',
  'service_account',
  '--username',
  'bot@idp-co.example',
];

describe('tenants CLI: --idp-*', () => {
  let t: TenantDb;
  let env: Record<string, string>;
  before(async () => {
    t = await createTenantDb({ roles: false });
    env = { DATABASE_URL: t.db.url, DB_TENANT_ROLES: 'false' };
  });
  after(async () => {
    await t?.close();
  });

  it('stores the IdP, shows it in list, and drops it on an update without the flags', async () => {
    const add = await tenants(
      [
        ...base,
        '--idp-issuer',
        'https://idp-co.okta.com',
        '--idp-client-id',
        '0oa1b2c3',
        '--idp-client-secret-env',
        'IDP_CO_SECRET',
        '--idp-name',
        'IdP Co SSO',
        '--idp-allow-other-providers',
      ],
      env,
    );
    assert.equal(add.code, 0, add.err);
    const list = await tenants(['list', '--json'], env);
    const row = (JSON.parse(list.out) as { id: string; idp: unknown }[]).find((x) => x.id === 'idp-co');
    assert.deepEqual(row?.idp, {
      issuer: 'https://idp-co.okta.com',
      clientId: '0oa1b2c3',
      clientSecretEnv: 'IDP_CO_SECRET',
      name: 'IdP Co SSO',
      allowOtherProviders: true,
    });
    assert.match((await tenants(['list'], env)).out, /idp-co\t.*\[idp https:\/\/idp-co\.okta\.com\]/);

    const update = await tenants(base, env);
    assert.equal(update.code, 0, update.err);
    const { rows } = await t.pool.query<{ idp: unknown }>("SELECT idp FROM control.tenants WHERE id = 'idp-co'");
    assert.equal(rows[0]!.idp, null);
  });

  it('refuses a bad issuer, a missing client id and a secret value where an env var name belongs', async () => {
    const badIssuer = await tenants([...base, '--idp-issuer', 'okta', '--idp-client-id', 'c'], env);
    assert.equal(badIssuer.code, 64);
    assert.match(badIssuer.err, /idp\.issuer/);
    const noClient = await tenants([...base, '--idp-issuer', 'https://idp-co.okta.com'], env);
    assert.equal(noClient.code, 64);
    assert.match(noClient.err, /idp\.clientId/);
    const secretValue = await tenants(
      [
        ...base,
        '--idp-issuer',
        'https://idp-co.okta.com',
        '--idp-client-id',
        'c',
        '--idp-client-secret-env',
        'sk-live-abc',
      ],
      env,
    );
    assert.equal(secretValue.code, 64);
    assert.match(secretValue.err, /idp\.clientSecretEnv: must be an environment variable name/);
  });
});
