/**
 * `npm run dev`: everything local in one process tree — embedded Postgres (unless DATABASE_URL is
 * set), the local OIDC issuer and the server — then prints a dev token and ready-to-paste client
 * configs. Never for production: the issuer mints whatever it is asked to.
 *
 * @module
 */
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { start } from '../main.js';
import { startDevIssuer } from './issuer.js';

const env = process.env;
const issuer = await startDevIssuer({ port: Number(env.DEV_ISSUER_PORT ?? 9400) });
let config;
try {
  config = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'info', ...env, OIDC_ISSUER: issuer.issuer });
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`vault-mcp dev: ${e.message}\n`);
    process.exit(78);
  }
  throw e;
}
const log = createLogger({ level: config.logLevel });
const running = await start(config, { log });
const token = await issuer.mint(
  { sub: 'qa.manager', aud: config.resource, email: 'qa.manager@acme.com', email_verified: true, scope: 'vault:read vault:vql vault:write', azp: 'dev' },
  { expiresIn: 12 * 3600 },
);

const mcpUrl = config.resource;
const claude = {
  mcpServers: {
    'vault-dev': { command: 'npx', args: ['-y', 'mcp-remote', mcpUrl, '--header', 'Authorization:${AUTH_HEADER}'], env: { AUTH_HEADER: `Bearer ${token}` } },
  },
};
process.stdout.write(`
vault-mcp dev is running
  MCP endpoint : ${mcpUrl}
  OIDC issuer  : ${issuer.issuer}  (dev only; mints tokens on POST /token)

Dev token (12 h, user qa.manager@acme.com, scopes vault:read vault:vql vault:write):
${token}

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
      .finally(() => issuer.close())
      .finally(() => process.exit(0));
  });
}
