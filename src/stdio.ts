/**
 * Single-user stdio mode for a desktop MCP client (Claude Desktop's `command` servers): the user's own
 * Vault credentials from VAULT_URL / VAULT_USERNAME / VAULT_PASSWORD (or VAULT_PASSWORD_FILE, refused
 * when group/world readable). No database and no identity provider: the session lives in memory, the
 * same tools run with the user's own Vault identity, and the session is ended on exit.
 * stdout carries the MCP protocol only; logs go to stderr.
 *
 * @module
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { loadStdioConfig, type StdioConfig } from './config/stdio.js';
import { parseSchemaName } from './db/schema-name.js';
import { ConfigError } from './errors/index.js';
import { createLogger } from './log/index.js';
import type { CallContext } from './context/call-context.js';
import { toAuthInfo } from './mcp/context.js';
import { createMcpServer } from './mcp/server.js';
import { createVaultMcp } from './mcp/tools/index.js';
import type { Tenant } from './tenancy/tenant.js';
import { readSecretFile } from './vault/secret-file.js';
import { createSessionManager } from './vault/session-manager.js';
import { createMemorySessionStore } from './vault/session-store.js';

/** Placeholder schema: the memory store never touches a database. */
const LOCAL_SCHEMA = parseSchemaName(`t_${'0'.repeat(32)}`);

/**
 * Serve MCP over the given streams (stdin/stdout by default) until the input ends.
 *
 * @example
 * await runStdio(loadStdioConfig(process.env));
 */
export async function runStdio(cfg: Readonly<StdioConfig>): Promise<{ close(): Promise<void> }> {
  const log = createLogger({ level: cfg.logLevel, destination: process.stderr });
  const password = cfg.password ?? readSecretFile(cfg.passwordFile!, 'VAULT_PASSWORD_FILE');
  const tenant: Tenant = {
    id: 'local',
    name: 'local',
    schema: LOCAL_SCHEMA,
    vault: {
      url: cfg.vaultUrl,
      apiVersion: cfg.apiVersion,
      auth: { mode: 'service_account', username: cfg.username, passwordEnv: 'VAULT_PASSWORD' },
    },
  };
  const sessions = createSessionManager({
    store: createMemorySessionStore(),
    secrets: (name) => (name === 'VAULT_PASSWORD' ? password : undefined),
    idleTimeoutMs: cfg.vault.sessionIdleMs,
    keepAlive: cfg.vault.keepAlive,
    timeoutMs: cfg.vault.timeoutMs,
    maxRetries: cfg.vault.maxRetries,
    clientIdPrefix: cfg.vault.clientIdPrefix,
    log,
  });
  const ctx: CallContext = {
    user: {
      subject: `local:${cfg.username}`,
      provider: 'local',
      issuer: cfg.vaultUrl,
      email: cfg.username.includes('@') ? cfg.username : undefined,
      // Nobody verified it: only Vault's own login vouches for this user.
      emailVerified: false,
      scopes: cfg.scopes,
      clientId: 'stdio',
      expiresAt: Math.floor(Date.now() / 1000) + 10 * 365 * 86400,
    },
    tenant,
    requestId: 'stdio',
  };
  const { tools, surface } = createVaultMcp({ sessions });
  const server = createMcpServer({
    tools,
    scopes: cfg.scopes,
    surface,
    onToolError: (tool, e) => log.warn({ tool, code: (e as { code?: string }).code ?? 'ERR_INTERNAL' }, 'tool failed'),
  });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  // Stdio has no bearer token: hand every message the local user's context, as HTTP does per request.
  const t = transport as Transport;
  const onmessage = t.onmessage!;
  const authInfo = toAuthInfo(ctx);
  t.onmessage = (message, extra) => onmessage(message, { ...extra, authInfo });
  log.info({ vault: cfg.vaultUrl, user: cfg.username }, 'vault-mcp stdio ready');

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        try {
          await server.close();
        } finally {
          await sessions.close();
        }
      })()),
  };
}

async function main(): Promise<void> {
  let cfg: Readonly<StdioConfig>;
  try {
    cfg = loadStdioConfig(process.env);
    if (cfg.passwordFile) readSecretFile(cfg.passwordFile, 'VAULT_PASSWORD_FILE');
  } catch (e) {
    if (e instanceof ConfigError || e instanceof TypeError) {
      process.stderr.write(`vault-mcp stdio: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const running = await runStdio(cfg);
  const stop = () => void running.close().finally(() => process.exit(0));
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`vault-mcp stdio: failed to start: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
