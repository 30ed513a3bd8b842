/**
 * `npm run vault-sim`: run the Vault simulator on its own (default 127.0.0.1:8282).
 * `VAULT_SIM_PORT`, `VAULT_SIM_SESSION_TIMEOUT_MS` tune it. Seed users share the password `sim-password`.
 *
 * @module
 */
import { assertPortFree } from '../../net/ports.js';
import { loadDevConfig } from '../config.js';
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT, SIM_PASSWORD } from './seed.js';
import { startVaultSimulator } from './server.js';

try {
  const dev = loadDevConfig(process.env);
  await assertPortFree(dev.VAULT_SIM_PORT, 'VAULT_SIM_PORT');
  const sim = await startVaultSimulator({
    port: dev.VAULT_SIM_PORT,
    sessionTimeoutMs: dev.VAULT_SIM_SESSION_TIMEOUT_MS,
  });
  process.stdout.write(
    `Vault simulator on ${sim.url}\n` +
      `  users: ${SERVICE_ACCOUNT} (service account), ${QA_MANAGER}, ${QA_SPECIALIST}; password: ${SIM_PASSWORD}\n` +
      `  try: curl -s -X POST ${sim.url}/api/v25.2/auth -d username=${QA_MANAGER} -d password=${SIM_PASSWORD}\n`,
  );
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => void sim.close().then(() => process.exit(0)));
} catch (e) {
  // A taken port or a bad setting: one line, no stack trace.
  process.stderr.write(`vault-sim: ${(e as Error).message}\n`);
  process.exit(1);
}
