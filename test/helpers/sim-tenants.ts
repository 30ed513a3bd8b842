/**
 * A tenants file for servers whose Vault is the simulator: acme.com delegated, globex.com through
 * the service account (both sign in as the simulator's integration user).
 */
import { SERVICE_ACCOUNT } from '../../src/dev/vault-sim/seed.js';

export function simTenants(simUrl: string) {
  const auth = { username: SERVICE_ACCOUNT, passwordEnv: 'ACME_VAULT_PASSWORD' };
  return {
    tenants: [
      {
        id: 'acme',
        domains: ['acme.com'],
        vault: { url: simUrl, apiVersion: 'v25.2', auth: { mode: 'delegated', ...auth } },
      },
      {
        id: 'globex',
        domains: ['globex.com'],
        vault: { url: simUrl, apiVersion: 'v25.2', auth: { mode: 'service_account', ...auth } },
      },
    ],
  };
}
