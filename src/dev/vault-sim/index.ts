export { startVaultSimulator, type SimFault, type SimOptions, type VaultSimulator } from './server.js';
export { defaultSeed, QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT, SIM_PASSWORD, type SimSeed } from './seed.js';
