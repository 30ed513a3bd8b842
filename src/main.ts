/**
 * Wires the concerns together. `start(config)` is used by the CLI entry below, by `npm run dev` and by
 * the tests, so they all exercise the same wiring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAuthFromConfig } from './auth/from-config.js';
import { createAuditWriter } from './audit/index.js';
import { loadConfig, type Config } from './config/index.js';
import { loadMigrations, migrate, migrationStatus } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import { assertCanManageTenantRoles } from './db/tenant-roles.js';
import { ConfigError } from './errors/index.js';
import { createApp } from './http/app.js';
import { listen } from './http/listen.js';
import { createRateLimiter } from './http/rate-limit.js';
import { createLogger, type Logger } from './log/index.js';
import { createVaultTools } from './mcp/tools/index.js';
import { createSessionCipher } from './vault/crypto.js';
import { createSessionManager } from './vault/session-manager.js';
import { createPgSessionStore } from './vault/session-store-pg.js';
import { createTokenExchange } from './vault/token-exchange.js';
import { createTenantResolver, DEFAULT_PUBLIC_EMAIL_DOMAINS, loadTenantsFile } from './tenancy/index.js';
import { createMetrics, type Metrics } from './metrics/index.js';

export interface Running {
  url: string;
  config: Readonly<Config>;
  metrics: Metrics;
  /** Graceful stop: HTTP first (drain), then the audit queue, then the pool, then an embedded database. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Looks up secrets that tenants reference by name (vault.auth.passwordEnv); default: none. */
  secrets?: (name: string) => string | undefined;
  /** false: POST /mcp always through the SDK's transport (benchmarks compare the two paths). */
  mcpFastPath?: boolean;
}

/**
 * Boot the server.
 *
 * @example
 * const running = await start(loadConfig(process.env));
 */
export async function start(config: Readonly<Config>, opts: StartOptions = {}): Promise<Running> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  const db = await openDatabase(config, {
    onEmbedded: (dir) => log.info({ dir }, 'no DATABASE_URL: starting embedded Postgres'),
    onError: (e) => log.warn({ err: e.message }, 'idle database client error'),
  });
  const { pool } = db;
  const metrics = createMetrics();
  const audit = createAuditWriter({
    pool,
    log,
    metrics,
    maxBatch: config.audit.batchMax,
    lingerMs: config.audit.lingerMs,
  });
  let closeAuth = async () => {};
  try {
    const migrations = await loadMigrations();
    // Fail closed: with per-tenant roles on, a user that cannot create them must stop the boot.
    if (config.db.tenantRoles) await assertCanManageTenantRoles(pool);
    if (config.db.migrateOnBoot) {
      const report = await migrate(pool, { migrations });
      const failed = report.tenants.filter((t) => t.error);
      if (report.control.length || report.tenants.some((t) => t.applied.length))
        log.info({ report }, 'migrations applied');
      if (failed.length) log.error({ failed }, 'some tenants failed to migrate; they are not ready');
    }
    const publicDomains = new Set(config.tenancy.publicDomains ?? DEFAULT_PUBLIC_EMAIL_DOMAINS);
    const provisionDeps = { migrations: migrations.tenant, roles: config.db.tenantRoles, publicDomains };
    if (config.tenantsFile) {
      const upserted = await loadTenantsFile(pool, config.tenantsFile, provisionDeps);
      log.info({ tenants: upserted.map((t) => t.id) }, 'tenants file applied');
    }
    const resolveTenant = createTenantResolver({
      pool,
      ...provisionDeps,
      publicDomainsPolicy: config.tenancy.publicDomainsPolicy,
      personalTemplate: config.tenancy.personalTemplate,
      cacheTtlMs: config.tenancy.cacheTtlMs,
      cacheMax: config.cache.tenantMax,
    });

    const auth = createAuthFromConfig(config, {
      pool,
      onError: (e) => log.warn({ err: e.message }, 'api key bookkeeping failed'),
      listenUrl: config.cache.listenUrl ?? db.url,
    });
    closeAuth = () => auth.close();
    if (auth.providers.length === 1) log.warn('no identity provider is configured: only API keys are accepted on /mcp');
    else log.info({ providers: auth.providers }, 'identity providers enabled');

    // Vault sessions: one per (tenant, user), shared across replicas through the tenant schema.
    let secretKey = config.secretKey;
    if (!secretKey && db.embedded) secretKey = await localSecretKey(path.join(config.db.dataDir, 'secret.key'));
    if (!secretKey)
      log.warn('SECRET_KEY is not set: stored Vault sessions use a per-process key and are not shared across restarts');
    const cipher = createSessionCipher(secretKey ?? randomBytes(32).toString('base64'));
    const secrets = opts.secrets ?? (() => undefined);
    const sessions = createSessionManager({
      store: createPgSessionStore({
        pool,
        cipher,
        onDecryptError: (tenant) =>
          log.warn({ tenant }, 'stored Vault session does not decrypt (SECRET_KEY changed?); logging in again'),
      }),
      secrets,
      // oauth mode: RFC 8693 exchange of the caller's token for a Vault-audience token.
      oauthToken: createTokenExchange({ secrets, timeoutMs: config.vault.timeoutMs }),
      idleTimeoutMs: config.vault.sessionIdleMs,
      keepAlive: config.vault.keepAlive,
      timeoutMs: config.vault.timeoutMs,
      maxRetries: config.vault.maxRetries,
      clientIdPrefix: config.vault.clientIdPrefix,
      maxCached: config.cache.vaultSessionMax,
      log,
      metrics,
    });

    const app = createApp({
      config,
      log,
      verifier: auth.verifier,
      tools: createVaultTools({ sessions }),
      authorizationServers: auth.authorizationServers,
      resolveTenant,
      audit,
      metrics,
      rateLimiter: config.rateLimit.perMinute ? createRateLimiter(config.rateLimit) : undefined,
      mcpFastPath: opts.mcpFastPath,
      readiness: async () => {
        const s = await migrationStatus(pool, migrations);
        return { ready: s.ready, detail: { pendingControl: s.pendingControl, tenantsBehind: s.tenantsBehind } };
      },
    });
    const http = await listen(app, { port: config.port, host: config.host });
    log.info({ url: http.url, resource: config.resource }, 'vault-mcp listening');

    let closing: Promise<void> | undefined;
    return {
      url: http.url,
      config,
      metrics,
      close: () =>
        (closing ??= (async () => {
          try {
            await http.close();
          } finally {
            try {
              await sessions
                .close()
                .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'closing Vault sessions failed'));
              // After the drain: in-flight calls have awaited their rows; flush whatever is queued.
              await audit.close();
              await closeAuth();
            } finally {
              await db.close();
            }
          }
        })()),
    };
  } catch (e) {
    await audit.close().catch(() => undefined);
    await closeAuth().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw e;
  }
}

/** The embedded (single-machine) setup keeps a generated key beside its database, readable by this user only. */
async function localSecretKey(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const key = randomBytes(32).toString('base64');
    await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}

async function main(): Promise<void> {
  // A ConfigError (bad env or TENANTS_FILE) is reported by the entry's catch below with exit 78.
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel });
  const running = await start(config, { log, secrets: (name) => process.env[name] });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      log.info({ sig }, 'shutting down');
      running.close().then(
        () => process.exit(0),
        (e: unknown) => {
          log.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`vault-mcp: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    process.stderr.write(`vault-mcp: failed to start: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
