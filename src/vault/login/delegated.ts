/**
 * `delegated` mode: the service account opens a session acting as the user's own Vault account
 * (POST /api/{v}/delegation/login). The user's Vault id is found once by the verified email in their
 * token (`users` query on `user_email__v`, active users only: `active__v`) and remembered in
 * user_mappings; the user must have granted the service account delegate access in this Vault.
 *
 * @module
 */
import { AppError } from '../../errors/index.js';
import { VaultError } from '../errors.js';
import { vqlString } from '../vql.js';
import { passwordAuth } from './service-account.js';
import type { LoginDeps, LoginMode } from './types.js';

interface UserRow {
  id: unknown;
  user_name__v: unknown;
  active__v?: unknown;
}

/**
 * @example
 * const dg = delegatedLogin(deps);
 * const who = await dg.identify(tenant, ctx); // { vaultUserId: '1001', vaultUsername: 'qa.manager@acme.com' }
 */
export function delegatedLogin(deps: LoginDeps): LoginMode {
  return {
    kind: 'delegated',
    subject: (ctx) => ctx.user.subject,

    async identify(tenant, ctx) {
      const known = await deps.store.getMapping(tenant, ctx.user.subject);
      const email = ctx.user.email?.toLowerCase();
      if (known && known.email === email) return known;
      if (!email || !ctx.user.emailVerified) {
        throw new AppError('ERR_VAULT_ACCESS', 'Delegated Vault access needs a verified email address in your token');
      }
      const rows = await deps.withServiceSession(
        tenant,
        ctx,
        async (sid) =>
          (
            await deps
              .clientFor(tenant)
              .query<UserRow>(
                sid,
                `SELECT id, user_name__v, active__v FROM users WHERE user_email__v = ${vqlString(email)}`,
              )
          ).data,
      );
      // Fail closed: a record without active__v is not taken for an active user.
      const active = rows.filter((r) => r.active__v === true || r.active__v === 'true');
      if (active.length !== 1) {
        throw new AppError(
          'ERR_VAULT_ACCESS',
          active.length
            ? `Several active Vault users have the email ${email}; ask your Vault admin to make it unique`
            : `No active Vault user has the email ${email}`,
        );
      }
      const mapping = { email, vaultUserId: String(active[0]!.id), vaultUsername: String(active[0]!.user_name__v) };
      await deps.store.putMapping(tenant, ctx.user.subject, mapping);
      return mapping;
    },

    async login(tenant, ctx, who) {
      const vaultUserId = who.vaultUserId!;
      const client = deps.clientFor(tenant);
      const host = new URL(tenant.vault.url).host;
      const sessionId = await deps.withServiceSession(tenant, ctx, async (sa) => {
        // The user may have granted access in several Vaults of the domain: only this tenant's counts.
        const grant = (await client.delegations(sa)).find(
          (d) => String(d.delegator_userid) === vaultUserId && d.dns.toLowerCase() === host,
        );
        if (!grant) {
          throw new VaultError(
            'ERR_VAULT_ACCESS',
            'INSUFFICIENT_ACCESS',
            `Vault user ${vaultUserId} has not granted delegate access in ${host} to the service account ${passwordAuth(tenant).username}`,
          );
        }
        return client.delegationLogin(sa, grant.id, vaultUserId);
      });
      return { sessionId, vaultUserId };
    },
  };
}
