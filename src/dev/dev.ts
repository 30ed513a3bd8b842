/**
 * `npm run dev`: everything local in one process tree — embedded Postgres (unless DATABASE_URL is
 * set), the local OIDC issuer, the Vault simulator, a demo tenant and the server — then prints a dev token and ready-to-paste client
 * configs. Never for production: the issuer mints whatever it is asked to.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { start } from '../main.js';
import { startDevIssuer } from './issuer.js';
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT, SIM_PASSWORD } from './vault-sim/seed.js';
import { startVaultSimulator } from './vault-sim/server.js';

const env = process.env;
const dataDir = env.DATA_DIR ?? '.data';
await mkdir(dataDir, { recursive: true });
// Keys persist in the data dir (0600), so tokens and sign-ins survive a restart of `npm run dev`.
const issuer = await startDevIssuer({
  port: Number(env.DEV_ISSUER_PORT ?? 9400),
  keyFile: path.join(dataDir, 'dev-issuer-keys.json'),
  users: [
    { sub: 'qa.manager', email: QA_MANAGER, email_verified: true, name: 'QA Manager' },
    { sub: 'qa.specialist', email: QA_SPECIALIST, email_verified: true, name: 'QA Specialist' },
  ],
});
const sim = await startVaultSimulator({ port: Number(env.VAULT_SIM_PORT ?? 8282) });
// The demo tenant: acme.com users, delegated mode, so each user sees what their own Vault user may see.
const tenantsFile = path.join(dataDir, 'dev-tenants.json');
await writeFile(
  tenantsFile,
  JSON.stringify(
    {
      tenants: [
        {
          id: 'acme',
          name: 'Acme Pharma (demo)',
          domains: ['acme.com'],
          vault: {
            url: sim.url,
            apiVersion: 'v25.2',
            auth: { mode: 'delegated', username: SERVICE_ACCOUNT, passwordEnv: 'DEV_VAULT_PASSWORD' },
          },
        },
      ],
    },
    null,
    2,
  ),
);
const secrets: Record<string, string | undefined> = { ...env, DEV_VAULT_PASSWORD: SIM_PASSWORD };
let config;
try {
  config = loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    TENANTS_FILE: tenantsFile,
    // The dev issuer is also the upstream sign-in provider of the authorization server.
    OIDC_CLIENT_ID: 'vault-mcp-dev',
    ...env,
    OIDC_ISSUER: issuer.issuer,
  });
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`vault-mcp dev: ${e.message}\n`);
    process.exit(78);
  }
  throw e;
}
const log = createLogger({ level: config.logLevel });
const running = await start(config, { log, secrets: (name) => secrets[name] });
const mintFor = (email: string, scope: string) =>
  issuer.mint(
    { sub: email.split('@')[0], aud: config.resource, email, email_verified: true, scope, azp: 'dev' },
    { expiresIn: 12 * 3600 },
  );
const token = await mintFor(QA_MANAGER, 'vault:read vault:vql vault:write');
const specialistToken = await mintFor(QA_SPECIALIST, 'vault:read');

const mcpUrl = config.resource;
const claude = {
  mcpServers: {
    'vault-dev': {
      command: 'npx',
      args: ['-y', 'mcp-remote', mcpUrl, '--header', 'Authorization:${AUTH_HEADER}'],
      env: { AUTH_HEADER: `Bearer ${token}` },
    },
  },
};
process.stdout.write(`
vault-mcp dev is running
  MCP endpoint : ${mcpUrl}
  OIDC issuer  : ${issuer.issuer}  (dev only; POST /token mints tokens and grants RFC 8693 token exchanges;
                 sign-in page at ${issuer.authorizationEndpoint}: one link per demo user)
  Vault (sim)  : ${sim.url}  (tenant "acme", delegated mode; users' password: ${SIM_PASSWORD})

Dev token (12 h, ${QA_MANAGER}, scopes vault:read vault:vql vault:write):
${token}

Second user (12 h, ${QA_SPECIALIST}, vault:read only; sees fewer documents):
${specialistToken}

mcp-remote:
  npx -y mcp-remote ${mcpUrl} --header "Authorization: Bearer ${token}"

Claude Desktop (claude_desktop_config.json):
${JSON.stringify(claude, null, 2)}

Press Ctrl-C to stop.
`);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    void running
      .close()
      .finally(() => Promise.all([issuer.close(), sim.close()]))
      .finally(() => process.exit(0));
  });
}
