/**
 * `npm run vault-sim`: run the Vault simulator on its own (default 127.0.0.1:8282).
 * `VAULT_SIM_PORT`, `VAULT_SIM_SESSION_TIMEOUT_MS` tune it. Seed users share the password `sim-password`.
 *
 * @module
 */
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT, SIM_PASSWORD } from './seed.js';
import { startVaultSimulator } from './server.js';

const sim = await startVaultSimulator({
  port: Number(process.env.VAULT_SIM_PORT ?? 8282),
  sessionTimeoutMs: process.env.VAULT_SIM_SESSION_TIMEOUT_MS
    ? Number(process.env.VAULT_SIM_SESSION_TIMEOUT_MS)
    : undefined,
});
process.stdout.write(
  `Vault simulator on ${sim.url}\n` +
    `  users: ${SERVICE_ACCOUNT} (service account), ${QA_MANAGER}, ${QA_SPECIALIST}; password: ${SIM_PASSWORD}\n` +
    `  try: curl -s -X POST ${sim.url}/api/v25.2/auth -d username=${QA_MANAGER} -d password=${SIM_PASSWORD}\n`,
);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void sim.close().then(() => process.exit(0)));
