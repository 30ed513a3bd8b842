import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tenant } from '../../src/tenancy/tenant.js';
import {
  createSessionCache,
  keyId,
  rowKey,
  sessionKey,
  vaultUrlOf,
  type CachedSession,
} from '../../src/vault/session-cache.js';
import { makeTenant, SA_AUTH } from '../helpers/vault.js';

const entry = (tenant: Tenant, subject: string | null, ref = '1'): CachedSession => ({
  key: sessionKey(tenant, subject === null ? 'service_account' : 'delegated', subject),
  tenant,
  sessionId: `S-${subject}`,
  vaultUserId: '1',
  createdAt: 0,
  lastUsedAt: 0,
  expiresAt: 0,
  ref,
  lastCallAt: 0,
  lastPersistedAt: 0,
  createdHere: true,
});

describe('session cache: typed keys', () => {
  const acme = makeTenant('https://Acme.veevavault.com/', SA_AUTH, 'acme');

  it('keys carry tenant, normalised Vault URL, mode and subject', () => {
    assert.equal(vaultUrlOf(acme), 'https://acme.veevavault.com');
    assert.deepEqual(sessionKey(acme, 'delegated', 'oidc:x|jane'), {
      tenant: 'acme',
      vaultUrl: 'https://acme.veevavault.com',
      kind: 'delegated',
      subject: 'oidc:x|jane',
    });
    assert.equal(rowKey(sessionKey(acme, 'service_account', null)), 'sa');
    assert.equal(rowKey(sessionKey(acme, 'delegated', 'jane')), 'dg:jane');
    assert.equal(rowKey(sessionKey(acme, 'oauth', 'jane')), 'oa:jane');
    const moved: Tenant = { ...acme, vault: { ...acme.vault, url: 'https://acme2.veevavault.com' } };
    assert.notEqual(keyId(sessionKey(acme, 'oauth', 'jane')), keyId(sessionKey(moved, 'oauth', 'jane')));
    // A subject cannot forge another key's parts.
    assert.notEqual(
      keyId(sessionKey(acme, 'oauth', 'a')),
      keyId({ ...sessionKey(acme, 'oauth', 'a'), tenant: 'acme\u0000' }),
    );
  });

  it("drops a tenant's sessions of another Vault URL, and only those", () => {
    const cache = createSessionCache();
    const other = makeTenant('https://other.veevavault.com', SA_AUTH, 'other');
    cache.set(entry(acme, null));
    cache.set(entry(acme, 'jane'));
    cache.set(entry(other, null));
    assert.deepEqual(cache.dropOtherVaults(acme), []);
    const moved: Tenant = { ...acme, vault: { ...acme.vault, url: 'https://acme2.veevavault.com' } };
    assert.equal(cache.dropOtherVaults(moved).length, 2);
    assert.equal(cache.get(sessionKey(acme, 'delegated', 'jane')), undefined);
    assert.ok(cache.get(sessionKey(other, 'service_account', null)));
  });

  it('delete with a ref only removes that very session', () => {
    const cache = createSessionCache();
    cache.set(entry(acme, 'jane', 'v2'));
    cache.delete(sessionKey(acme, 'delegated', 'jane'), 'v1');
    assert.ok(cache.get(sessionKey(acme, 'delegated', 'jane')));
    cache.delete(sessionKey(acme, 'delegated', 'jane'), 'v2');
    assert.equal(cache.get(sessionKey(acme, 'delegated', 'jane')), undefined);
  });
});
