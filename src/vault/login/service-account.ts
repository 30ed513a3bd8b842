/**
 * `service_account` mode: one session per tenant, opened with the integration user's password
 * (POST /api/{v}/auth). Every user sees what the service account sees; the audit log names each user.
 * `delegated` mode uses this session too, to find users and open their delegated sessions.
 *
 * @module
 */
import { AppError } from '../../errors/index.js';
import type { Tenant } from '../../tenancy/tenant.js';
import { readSecretFile } from '../secret-file.js';
import type { LoginDeps, LoginMode } from './types.js';

type PasswordAuth = Exclude<Tenant['vault']['auth'], { mode: 'oauth' }>;

/** The tenant's service-account settings (both password modes have them). */
export function passwordAuth(tenant: Tenant): PasswordAuth {
  const auth = tenant.vault.auth;
  if (auth.mode === 'oauth') {
    throw new AppError(
      'ERR_VAULT_AUTH',
      `Tenant ${tenant.id} uses vault.auth.mode "oauth", which has no service account`,
    );
  }
  return auth;
}

/** The service account's password from `passwordEnv` or `passwordFile`, or an error naming the key. */
export function servicePassword(tenant: Tenant, secrets: LoginDeps['secrets']): string {
  const auth = passwordAuth(tenant);
  if (auth.passwordEnv) {
    const v = secrets(auth.passwordEnv);
    if (!v)
      throw new AppError(
        'ERR_VAULT_AUTH',
        `Tenant ${tenant.id}: the environment variable ${auth.passwordEnv} (vault.auth.passwordEnv) is not set`,
      );
    return v;
  }
  if (auth.passwordFile) {
    try {
      return readSecretFile(auth.passwordFile, `tenant ${tenant.id} vault.auth.passwordFile`);
    } catch (e) {
      throw new AppError('ERR_VAULT_AUTH', (e as Error).message);
    }
  }
  throw new AppError('ERR_VAULT_AUTH', `Tenant ${tenant.id}: vault.auth needs passwordEnv or passwordFile`);
}

/**
 * @example
 * const sa = serviceAccountLogin(deps);
 * const { sessionId } = await sa.login(tenant, ctx, {});
 */
export function serviceAccountLogin(deps: Pick<LoginDeps, 'clientFor' | 'secrets'>): LoginMode {
  return {
    kind: 'service_account',
    subject: () => null,
    identify: (tenant) => Promise.resolve({ vaultUsername: passwordAuth(tenant).username }),
    async login(tenant) {
      const r = await deps.clientFor(tenant).auth(passwordAuth(tenant).username, servicePassword(tenant, deps.secrets));
      return { sessionId: r.sessionId, vaultUserId: String(r.userId) };
    },
  };
}
