/**
 * Wires the concerns together. `start(config)` is used by the CLI entry below, by `npm run dev` and by
 * the tests, so they all exercise the same wiring.
 *
 * @module
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAuditWriter } from './audit/index.js';
import { createTokenVerifier, type IssuerVerifier } from './auth/create-verifier.js';
import { createOidcVerifier } from './auth/oidc-verifier.js';
import { loadConfig, type Config } from './config/index.js';
import { startEmbeddedPostgres, type EmbeddedDb } from './db/embedded.js';
import { loadMigrations, migrate, migrationStatus } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { ConfigError } from './errors/index.js';
import { createApp, type AppDeps } from './http/app.js';
import { listen } from './http/listen.js';
import { createRateLimiter } from './http/rate-limit.js';
import { createLogger, type Logger } from './log/index.js';
import { whoami } from './mcp/tools/whoami.js';
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
  /** Overrides tenant resolution (tests and benchmarks that need a tenant without domain mapping). */
  resolveTenant?: AppDeps['resolveTenant'];
}

/**
 * Boot the server.
 *
 * @example
 * const running = await start(loadConfig(process.env));
 */
export async function start(config: Readonly<Config>, opts: StartOptions = {}): Promise<Running> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  let embedded: EmbeddedDb | undefined;
  let dbUrl = config.db.url;
  if (!dbUrl) {
    log.info({ dir: path.resolve(config.db.dataDir, 'pg') }, 'no DATABASE_URL: starting embedded Postgres');
    embedded = await startEmbeddedPostgres({ dir: path.join(config.db.dataDir, 'pg'), port: config.db.embeddedPort });
    dbUrl = embedded.url;
  }
  const pool = createPool({
    url: dbUrl,
    max: config.db.poolMax,
    statementTimeoutMs: config.db.statementTimeoutMs,
    onError: (e) => log.warn({ err: e.message }, 'idle database client error'),
  });
  const metrics = createMetrics();
  const audit = createAuditWriter({ pool, log, metrics, maxBatch: config.audit.batchMax, lingerMs: config.audit.lingerMs });
  try {
    const migrations = await loadMigrations();
    if (config.db.migrateOnBoot) {
      const report = await migrate(pool, { migrations });
      const failed = report.tenants.filter((t) => t.error);
      if (report.control.length || report.tenants.some((t) => t.applied.length)) log.info({ report }, 'migrations applied');
      if (failed.length) log.error({ failed }, 'some tenants failed to migrate; they are not ready');
    }

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
      resolveTenant: opts.resolveTenant,
      audit,
      metrics,
      rateLimiter: config.rateLimit.perMinute ? createRateLimiter(config.rateLimit) : undefined,
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
              // After the drain: in-flight calls have awaited their rows; flush whatever is queued.
              await audit.close();
            } finally {
              try {
                await pool.end();
              } finally {
                await embedded?.stop();
              }
            }
          }
        })()),
    };
  } catch (e) {
    await audit.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
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
    process.stderr.write(`vault-mcp: failed to start: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
