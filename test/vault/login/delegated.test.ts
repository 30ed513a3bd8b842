/**
 * Delegated login against Vault's documented shapes: users are found by email among records whose
 * `active__v` is true (not a `status__v` Vault's user records do not have), and only a delegation
 * granted in this tenant's Vault (`dns`) is used.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../../../src/errors/index.js';
import type { VaultClient, Delegation } from '../../../src/vault/client.js';
import { delegatedLogin } from '../../../src/vault/login/delegated.js';
import type { LoginDeps } from '../../../src/vault/login/types.js';
import type { UserMapping } from '../../../src/vault/session-store.js';
import { ctxFor, DELEGATED_AUTH, makeTenant } from '../../helpers/vault.js';

const tenant = makeTenant('https://acme-qd.veevavault.com', DELEGATED_AUTH, 'acme');
const ctx = ctxFor(tenant, 'Jane@acme.com');

function deps(users: Record<string, unknown>[], grants: Delegation[] = []) {
  const queries: string[] = [];
  const mappings = new Map<string, UserMapping>();
  const client = {
    query: (_s: string, q: string) => {
      queries.push(q);
      return Promise.resolve({ responseDetails: { size: users.length, total: users.length }, data: users });
    },
    delegations: () => Promise.resolve(grants),
    delegationLogin: (_s: string, vaultId: number, user: string | number) =>
      Promise.resolve(`DELEGATED-${vaultId}-${user}`),
  } as unknown as VaultClient;
  const d: LoginDeps = {
    clientFor: () => client,
    secrets: () => 'pw',
    store: {
      getMapping: (_t, sub) => Promise.resolve(mappings.get(sub)),
      putMapping: (_t, sub, m) => Promise.resolve(void mappings.set(sub, m)),
    },
    withServiceSession: (_t, _c, fn) => fn('SA-SESSION'),
  };
  return { d, queries, mappings };
}

describe('delegated login', () => {
  it('looks the user up by verified email with active__v and remembers the mapping', async () => {
    const { d, queries, mappings } = deps([{ id: 1001, user_name__v: 'jane@acme.com', active__v: true }]);
    const who = await delegatedLogin(d).identify(tenant, ctx);
    assert.deepEqual(who, { email: 'jane@acme.com', vaultUserId: '1001', vaultUsername: 'jane@acme.com' });
    assert.equal(queries[0], "SELECT id, user_name__v, active__v FROM users WHERE user_email__v = 'jane@acme.com'");
    assert.ok(mappings.get(ctx.user.subject));
  });

  it('refuses inactive users and records without active__v (fail closed)', async () => {
    for (const rows of [
      [{ id: 1001, user_name__v: 'jane@acme.com', active__v: false }],
      [{ id: 1001, user_name__v: 'jane@acme.com', status__v: 'active__v' }],
    ]) {
      await assert.rejects(
        delegatedLogin(deps(rows).d).identify(tenant, ctx),
        (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_ACCESS' && /No active Vault user/.test(e.message),
      );
    }
  });

  it("uses only a grant in this tenant's Vault, never another Vault's of the domain", async () => {
    const other: Delegation = { id: 2, name: 'PromoMats', dns: 'acme-pm.veevavault.com', delegator_userid: '1001' };
    const ours: Delegation = { id: 1, name: 'QualityDocs', dns: 'acme-qd.veevavault.com', delegator_userid: '1001' };
    const mode = (grants: Delegation[]) => delegatedLogin(deps([], grants).d);
    await assert.rejects(
      mode([other]).login(tenant, ctx, { vaultUserId: '1001' }),
      (e: unknown) => isAppError(e) && e.code === 'ERR_VAULT_ACCESS' && /acme-qd\.veevavault\.com/.test(e.message),
    );
    assert.deepEqual(await mode([other, ours]).login(tenant, ctx, { vaultUserId: '1001' }), {
      sessionId: 'DELEGATED-1-1001',
      vaultUserId: '1001',
    });
  });
});
