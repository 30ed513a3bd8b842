/**
 * Wires the concerns together. `start(config)` is used by the CLI entry below, by `npm run dev` and by
 * the tests, so they all exercise the same wiring.
 *
 * @module
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTokenVerifier, type IssuerVerifier } from './auth/create-verifier.js';
import { createOidcVerifier } from './auth/oidc-verifier.js';
import { loadConfig, type Config } from './config/index.js';
import { loadMigrations, migrate, migrationStatus } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import { assertCanManageTenantRoles } from './db/tenant-roles.js';
import { ConfigError } from './errors/index.js';
import { createApp } from './http/app.js';
import { listen } from './http/listen.js';
import { createLogger, type Logger } from './log/index.js';
import { whoami } from './mcp/tools/whoami.js';
import { createTenantResolver, DEFAULT_PUBLIC_EMAIL_DOMAINS, loadTenantsFile } from './tenancy/index.js';

export interface Running {
  url: string;
  config: Readonly<Config>;
  /** Graceful stop: HTTP first (drain), then the pool, then an embedded database. */
  close(): Promise<void>;
}

/**
 * Boot the server.
 *
 * @example
 * const running = await start(loadConfig(process.env));
 */
export async function start(config: Readonly<Config>, opts: { log?: Logger } = {}): Promise<Running> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  const db = await openDatabase(config, {
    onEmbedded: (dir) => log.info({ dir }, 'no DATABASE_URL: starting embedded Postgres'),
    onError: (e) => log.warn({ err: e.message }, 'idle database client error'),
  });
  const { pool } = db;
  try {
    const migrations = await loadMigrations();
    // Fail closed: with per-tenant roles on, a user that cannot create them must stop the boot.
    if (config.db.tenantRoles) await assertCanManageTenantRoles(pool);
    if (config.db.migrateOnBoot) {
      const report = await migrate(pool, { migrations });
      const failed = report.tenants.filter((t) => t.error);
      if (report.control.length || report.tenants.some((t) => t.applied.length)) log.info({ report }, 'migrations applied');
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
    });

    const jwt: IssuerVerifier[] = [];
    if (config.auth.oidc) {
      jwt.push(createOidcVerifier({ ...config.auth.oidc, clockSkewSeconds: config.auth.clockSkewSeconds }));
    }
    if (!jwt.length) log.warn('no identity provider is configured: every request to /mcp will be refused');
    const verifier = createTokenVerifier({ jwt, maxTokenBytes: config.auth.maxTokenBytes });

    const app = createApp({
      config,
      log,
      verifier,
      tools: [whoami],
      authorizationServers: jwt.map((v) => v.issuer),
      resolveTenant,
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
      close: () =>
        (closing ??= (async () => {
          try {
            await http.close();
          } finally {
            await db.close();
          }
        })()),
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`vault-mcp: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const log = createLogger({ level: config.logLevel });
  const running = await start(config, { log });
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
      process.exit(78); // EX_CONFIG: e.g. a bad TENANTS_FILE
    }
    process.stderr.write(`vault-mcp: failed to start: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
