/** Service-account and OAuth login modes: configuration errors name the key; the session is the mode's. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isAppError } from '../../../src/errors/index.js';
import type { AuthResult, VaultClient } from '../../../src/vault/client.js';
import { oauthLogin } from '../../../src/vault/login/oauth.js';
import { serviceAccountLogin, servicePassword } from '../../../src/vault/login/service-account.js';
import { ctxFor, makeTenant, SA_AUTH } from '../../helpers/vault.js';

const auth: AuthResult = { sessionId: 'S', userId: 7, vaultId: 1, vaultIds: [] };

describe('login modes', () => {
  it('service_account: one session per tenant, with the password from the named variable or file', async () => {
    const tenant = makeTenant('https://acme.veevavault.com', SA_AUTH);
    const seen: string[] = [];
    const client = {
      auth: (u: string, p: string) => {
        seen.push(`${u}:${p}`);
        return Promise.resolve(auth);
      },
    } as unknown as VaultClient;
    const sa = serviceAccountLogin({
      clientFor: () => client,
      secrets: (n) => (n === 'ACME_VAULT_PASSWORD' ? 'pw' : undefined),
    });
    assert.equal(sa.subject(ctxFor(tenant, 'a@acme.com')), null);
    assert.deepEqual(await sa.identify(tenant, ctxFor(tenant, 'a@acme.com')), {
      vaultUsername: 'integration@acme.com',
    });
    assert.deepEqual(await sa.login(tenant, ctxFor(tenant, 'a@acme.com'), {}), { sessionId: 'S', vaultUserId: '7' });
    assert.deepEqual(seen, ['integration@acme.com:pw']);

    assert.throws(
      () => servicePassword(tenant, () => undefined),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_AUTH' && /ACME_VAULT_PASSWORD/.test(e.message),
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'vault-pw-'));
    const file = path.join(dir, 'pw');
    writeFileSync(file, 'from-file\n');
    chmodSync(file, 0o644);
    const withFile = makeTenant('https://acme.veevavault.com', {
      mode: 'service_account',
      username: 'integration@acme.com',
      passwordFile: file,
    });
    assert.throws(
      () => servicePassword(withFile, () => undefined),
      (e: unknown) => isAppError(e) && /chmod 600/.test(e.message),
    );
    chmodSync(file, 0o600);
    assert.equal(
      servicePassword(withFile, () => undefined),
      'from-file',
    );
  });

  it('oauth: one session per user from the token source; without a source the error says so', async () => {
    const tenant = makeTenant('https://acme.veevavault.com', { mode: 'oauth', profileId: 'prof', clientId: 'mcp' });
    const ctx = ctxFor(tenant, 'jane@acme.com');
    const calls: unknown[] = [];
    const client = {
      oauthSession: (...a: unknown[]) => {
        calls.push(a);
        return Promise.resolve(auth);
      },
    } as unknown as VaultClient;
    const oa = oauthLogin({ clientFor: () => client, oauthToken: () => Promise.resolve('vault-token') });
    assert.equal(oa.subject(ctx), ctx.user.subject);
    assert.deepEqual(await oa.login(tenant, ctx, await oa.identify(tenant, ctx)), { sessionId: 'S', vaultUserId: '7' });
    assert.deepEqual(calls, [['prof', 'vault-token', { clientId: 'mcp' }]]);
    await assert.rejects(
      Promise.resolve().then(() => oauthLogin({ clientFor: () => client }).identify(tenant, ctx)),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_AUTH' && /no Vault token source/.test(e.message),
    );
  });
});
