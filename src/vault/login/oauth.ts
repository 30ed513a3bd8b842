/**
 * `oauth` mode: one session per user from the tenant's Vault OAuth/OIDC profile
 * (POST /auth/oauth/session/{profile_id}), fed by a Vault-audience token from the injected
 * `oauthToken` source (token exchange, see token-exchange.ts) — never the MCP access token.
 *
 * @module
 */
import { AppError } from '../../errors/index.js';
import type { Tenant } from '../../tenancy/tenant.js';
import type { LoginDeps, LoginMode } from './types.js';

function oauthAuth(tenant: Tenant): Extract<Tenant['vault']['auth'], { mode: 'oauth' }> {
  const auth = tenant.vault.auth;
  if (auth.mode !== 'oauth') throw new TypeError('oauth login for a tenant not in oauth mode');
  return auth;
}

/**
 * @example
 * const oa = oauthLogin({ clientFor, oauthToken: createTokenExchange({ secrets }) });
 */
export function oauthLogin(deps: Pick<LoginDeps, 'clientFor' | 'oauthToken'>): LoginMode {
  return {
    kind: 'oauth',
    subject: (ctx) => ctx.user.subject,
    identify(tenant) {
      if (!deps.oauthToken) {
        throw new AppError(
          'ERR_VAULT_AUTH',
          `Tenant ${tenant.id} uses vault.auth.mode "oauth" but no Vault token source is configured on this server`,
        );
      }
      return Promise.resolve({});
    },
    async login(tenant, ctx) {
      const auth = oauthAuth(tenant);
      const token = await deps.oauthToken!(ctx, tenant);
      const r = await deps.clientFor(tenant).oauthSession(auth.profileId, token, { clientId: auth.clientId });
      return { sessionId: r.sessionId, vaultUserId: String(r.userId) };
    },
  };
}
