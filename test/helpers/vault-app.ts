/**
 * The real HTTP app (createApp) with the Vault tools, a local OIDC issuer and a resolveTenant stub
 * (tenant resolution is the tenancy module's job; here every caller maps to `tenant`).
 */
import { createOidcVerifier } from '../../src/auth/oidc-verifier.js';
import { createTokenVerifier } from '../../src/auth/create-verifier.js';
import { loadConfig } from '../../src/config/index.js';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { createApp } from '../../src/http/app.js';
import { listen } from '../../src/http/listen.js';
import { createLogger } from '../../src/log/index.js';
import type { ToolDef } from '../../src/mcp/tool.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { freePort } from './server.js';

export async function startVaultApp(tools: ToolDef[], tenant: Tenant | undefined) {
  const issuer: DevIssuer = await startDevIssuer();
  const port = await freePort();
  const config = loadConfig({ NODE_ENV: 'test', PORT: String(port), OIDC_ISSUER: issuer.issuer, LOG_LEVEL: 'silent' });
  const oidc = createOidcVerifier({ issuer: issuer.issuer, audience: config.resource, algorithms: ['RS256'], clockSkewSeconds: 60 });
  const app = createApp({
    config,
    log: createLogger({ level: 'silent' }),
    verifier: createTokenVerifier({ jwt: [oidc], maxTokenBytes: 16384 }),
    tools,
    authorizationServers: [issuer.issuer],
    resolveTenant: async () => tenant,
    readiness: async () => ({ ready: true }),
  });
  const http = await listen(app, { port, host: '127.0.0.1' });
  return {
    url: http.url,
    token: (email: string, scope: string) =>
      issuer.mint({ sub: email, aud: config.resource, email, email_verified: true, scope }),
    async close() {
      await http.close(1000);
      await issuer.close();
    },
  };
}
