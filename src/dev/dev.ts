/**
 * `npm run dev`: everything local in one process tree — embedded Postgres (unless DATABASE_URL is
 * set), the local OIDC issuer, the Vault simulator, a demo tenant and the server — then prints a dev
 * token and ready-to-paste client configs. Never for production: the issuer mints whatever it is asked to.
 *
 * Ports (README, "Ports"): PORT, DEV_ISSUER_PORT, VAULT_SIM_PORT, EMBEDDED_PG_PORT. A taken one stops
 * the start with one line naming it and its variable.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { start, type Running } from '../main.js';
import { asPortInUse, assertPortFree } from '../net/ports.js';
import { redirectUrisToRegister } from '../oauth/upstream/callback.js';
import { loadDevConfig } from './config.js';
import { startDevIssuer } from './issuer.js';
import { QA_MANAGER, QA_SPECIALIST, SERVICE_ACCOUNT, SIM_PASSWORD } from './vault-sim/seed.js';
import { startVaultSimulator } from './vault-sim/server.js';

const env = process.env;

/** The server's configuration for dev: development defaults, the caller's env, the local issuer. */
const devConfig = (issuer: string, tenantsFile?: string) =>
  loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    TENANTS_FILE: tenantsFile,
    ...env,
    OIDC_ISSUER: issuer,
    // The dev issuer is also the upstream sign-in provider of the authorization server.
    OIDC_CLIENT_ID: 'vault-mcp-dev',
    // vault-mcp is the authorization server clients see: paste the URL, sign in in the browser.
    OAUTH_SERVER_ENABLED: 'true',
  });

async function main(): Promise<void> {
  const dev = loadDevConfig(env);
  // Every setting checked, and every port we bind, before anything starts.
  const early = devConfig('http://127.0.0.1/');
  const dataDir = early.db.dataDir;
  const tenantsFile = path.join(dataDir, 'dev-tenants.json');
  await assertPortsFree([
    { variable: 'PORT', port: early.port, host: early.host },
    { variable: 'DEV_ISSUER_PORT', port: dev.DEV_ISSUER_PORT },
    { variable: 'VAULT_SIM_PORT', port: dev.VAULT_SIM_PORT },
  ]);

  await mkdir(dataDir, { recursive: true });
  // Keys persist in the data dir (0600), so tokens and sign-ins survive a restart of `npm run dev`.
  const issuer = await startDevIssuer({
    port: dev.DEV_ISSUER_PORT,
    keyFile: path.join(dataDir, 'dev-issuer-keys.json'),
    users: [
      { sub: 'qa.manager', email: QA_MANAGER, email_verified: true, name: 'QA Manager' },
      { sub: 'qa.specialist', email: QA_SPECIALIST, email_verified: true, name: 'QA Specialist' },
    ],
  });
  const sim = await startVaultSimulator({ port: dev.VAULT_SIM_PORT });
  // The demo tenant: acme.com users, delegated mode, so each user sees what their own Vault user may see.
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
  const config = devConfig(issuer.issuer, tenantsFile);
  const log = createLogger({ level: config.logLevel, pretty: true });
  let running: Running;
  try {
    running = await start(config, { log, secrets: (name) => secrets[name] });
  } catch (e) {
    await Promise.all([issuer.close(), sim.close()]);
    throw asPortInUse(e, config.port, 'PORT', config.host);
  }
  const mintFor = (email: string, scope: string) =>
    issuer.mint(
      { sub: email.split('@')[0], aud: config.resource, email, email_verified: true, scope, azp: 'dev' },
      { expiresIn: 12 * 3600 },
    );
  const token = await mintFor(QA_MANAGER, 'vault:read vault:vql vault:write');
  const specialistToken = await mintFor(QA_SPECIALIST, 'vault:read');
  process.stdout.write(banner(config, running, issuer.issuer, sim.url, token, specialistToken));

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      void running
        .close()
        .finally(() => Promise.all([issuer.close(), sim.close()]))
        .finally(() => process.exit(0));
    });
  }
}

/** Distinct ports (0 = any) that are free right now; the first problem is thrown. */
async function assertPortsFree(ports: { variable: string; port: number; host?: string }[]): Promise<void> {
  const fixed = ports.filter((p) => p.port !== 0);
  for (const [i, p] of fixed.entries()) {
    const twin = fixed.slice(0, i).find((q) => q.port === p.port);
    if (twin) throw new ConfigError([`${p.variable}: port ${p.port} is also ${twin.variable}; give each its own port`]);
  }
  for (const p of fixed) await assertPortFree(p.port, p.variable, p.host);
}

function banner(
  config: Readonly<Config>,
  running: Running,
  issuer: string,
  simUrl: string,
  token: string,
  specialistToken: string,
): string {
  const mcpUrl = config.resource;
  // Leads with the OAuth sign-in (no header): what a user of a deployed server does too.
  // @latest: npx otherwise keeps running an old cached mcp-remote (0.1.x cannot step up to more scopes).
  const claude = { mcpServers: { 'vault-dev': { command: 'npx', args: ['-y', 'mcp-remote@latest', mcpUrl] } } };
  const pg = running.embedded;
  const postgres = pg
    ? `embedded on 127.0.0.1:${pg.port}, data in ${pg.dataDir}${pg.relocated ? `\n                 (not under DATA_DIR: ${pg.relocated})` : ''}`
    : 'DATABASE_URL';
  return `
vault-mcp dev is running
  MCP endpoint : ${mcpUrl}
  OIDC issuer  : ${issuer}  (dev only; POST /token mints tokens and grants RFC 8693 token exchanges;
                 sign-in page at ${issuer}/authorize: one link per demo user)
  Redirect URI : ${redirectUrisToRegister(config.publicUrl, config.upstream)
    .map((u) => u.redirectUri)
    .join(', ')}  (where the issuer sends sign-ins back; a real IdP
                 must have it registered: one per provider, see docs/auth.md)
  Vault (sim)  : ${simUrl}  (tenant "acme", delegated mode; users' password: ${SIM_PASSWORD})
  Postgres     : ${postgres}

Dev token (12 h, ${QA_MANAGER}, scopes vault:read vault:vql vault:write):
${token}

Second user (12 h, ${QA_SPECIALIST}, vault:read only; sees fewer documents):
${specialistToken}

Connect a client: paste the URL, sign in in the browser (pick a demo user, then Allow):
  npx -y mcp-remote@latest ${mcpUrl}
  claude mcp add --transport http vault-dev ${mcpUrl}

Claude Desktop (claude_desktop_config.json):
${JSON.stringify(claude, null, 2)}

Or skip the browser with the dev token (a static bearer header):
  npx -y mcp-remote@latest ${mcpUrl} --header "Authorization: Bearer ${token}"

${pg ? 'While this runs, `npm run tenants`, `npm run api-keys` and `npm run audit` use this database.\n' : ''}Press Ctrl-C to stop.
`;
}

// One line on stderr for what the user can fix (a setting, a taken port); no stack trace.
main().catch((e: unknown) => {
  process.stderr.write(`vault-mcp dev: ${(e as Error).message}\n`);
  process.exit(e instanceof ConfigError ? 78 : 1);
});
