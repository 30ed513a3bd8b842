/**
 * Wires the concerns together. `start(config)` is used by the CLI entry below, by `npm run dev` and by
 * the tests, so they all exercise the same wiring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAuthFromConfig } from './auth/from-config.js';
import { createAuditKeys, createAuditWriter } from './audit/index.js';
import { loadConfig, type Config } from './config/index.js';
import { loadMigrations, migrate, migrationStatus } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import { stableSecretKey } from './db/secret-key.js';
import { assertCanManageTenantRoles, tablesOwnedBy } from './db/tenant-roles.js';
import { ConfigError } from './errors/index.js';
import { createApp } from './http/app.js';
import { listen, type HttpHandle } from './http/listen.js';
import { createMetricsApp } from './http/metrics.js';
import { createRateLimiterFromConfig } from './http/rate-limit-shared.js';
import { createLogger, type Logger } from './log/index.js';
import type { EmbeddedInfo } from './db/open-database.js';
import { asPortInUse } from './net/ports.js';
import { createVaultMcp } from './mcp/tools/index.js';
import { createSessionCipher } from './vault/crypto.js';
import { createSessionManager } from './vault/session-manager.js';
import { createPgSessionStore } from './vault/session-store-pg.js';
import { createTokenExchange } from './vault/token-exchange.js';
import { createTenantResolver, DEFAULT_PUBLIC_EMAIL_DOMAINS, loadTenantsFile } from './tenancy/index.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { createOwnIssuerVerifier } from './auth/own-issuer-verifier.js';
import type { UserContext } from './auth/types.js';
import { createOAuthServer, type OAuthServer, type OAuthServerDeps } from './oauth/server.js';
import { createUpstreamRegistry, redirectUrisToRegister } from './oauth/upstream/index.js';
import type { UpstreamRegistry } from './oauth/upstream/types.js';
import { scopesSupported } from './mcp/tool.js';
import type { TenantResolver } from './tenancy/index.js';

export interface Running {
  url: string;
  /** The METRICS_PORT listener (127.0.0.1), when configured. */
  metricsUrl?: string;
  config: Readonly<Config>;
  metrics: Metrics;
  /** The embedded Postgres when DATABASE_URL is unset (where its data is, its port). */
  embedded?: EmbeddedInfo;
  /** Graceful stop: HTTP first (drain), then the audit queue, then the pool, then an embedded database. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Sign-in providers of the authorization server (OAUTH_SERVER_ENABLED); built from the config by the caller. */
  upstreams?: UpstreamRegistry;
  /** Test seams of the client-metadata-document fetcher (DNS, CA, address policy); never set in production. */
  cimd?: OAuthServerDeps['cimd'];
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
  let embedded: EmbeddedInfo | undefined;
  const db = await openDatabase(config, {
    onEmbedded: (pg) => {
      embedded = pg;
      log.info(pg, `no DATABASE_URL: embedded Postgres on 127.0.0.1:${pg.port}, data in ${pg.dataDir}`);
    },
    onError: (e) => log.warn({ err: e.message }, 'idle database client error'),
  });
  const { pool, adminPool } = db;
  const metrics = createMetrics();
  // One stable key for Vault session encryption and the keyed audit chain (embedded: kept beside the data).
  const secretKey = await stableSecretKey(config, db.embedded).catch(async (e: unknown) => {
    await db.close().catch(() => undefined);
    throw e;
  });
  if (!secretKey)
    log.warn('SECRET_KEY is not set: audit rows are written unkeyed (hash_version 1), which `audit verify` reports');
  const audit = createAuditWriter({
    pool,
    log,
    metrics,
    maxBatch: config.audit.batchMax,
    lingerMs: config.audit.lingerMs,
    keys: secretKey ? createAuditKeys(secretKey, config.auditTrail.previousSecretKeys) : undefined,
  });
  let closeRateLimiter = (): Promise<void> => Promise.resolve();
  let closeMetricsHttp = (): Promise<void> => Promise.resolve();
  let closeAuth = async () => {};
  try {
    const migrations = await loadMigrations();
    // Fail closed: with per-tenant roles on, a user that cannot create them must stop the boot.
    if (config.db.tenantRoles) await assertCanManageTenantRoles(adminPool);
    // MIGRATION_DATABASE_URL: the owner migrates and provisions; the serving role gets grants only.
    const servingRole = await db.servingRole();
    const owned = servingRole ? await tablesOwnedBy(adminPool, servingRole) : 0;
    if (owned)
      log.warn(
        { role: servingRole, tables: owned },
        'the serving role (DATABASE_URL) still owns tables and could disable the audit trigger: run REASSIGN OWNED BY <serving role> TO <owner role> (docs/operations.md)',
      );
    if (config.db.migrateOnBoot) {
      const report = await migrate(adminPool, { migrations, servingRole });
      const failed = report.tenants.filter((t) => t.error);
      if (report.control.length || report.tenants.some((t) => t.applied.length))
        log.info({ report }, 'migrations applied');
      if (failed.length) log.error({ failed }, 'some tenants failed to migrate; they are not ready');
    }
    const publicDomains = new Set(config.tenancy.publicDomains ?? DEFAULT_PUBLIC_EMAIL_DOMAINS);
    const provisionDeps = { migrations: migrations.tenant, roles: config.db.tenantRoles, publicDomains, servingRole };
    if (config.tenantsFile) {
      const upserted = await loadTenantsFile(adminPool, config.tenantsFile, provisionDeps);
      log.info({ tenants: upserted.map((t) => t.id) }, 'tenants file applied');
    }
    const resolveTenant = createTenantResolver({
      pool,
      adminPool,
      ...provisionDeps,
      publicDomainsPolicy: config.tenancy.publicDomainsPolicy,
      personalTemplate: config.tenancy.personalTemplate,
      cacheTtlMs: config.tenancy.cacheTtlMs,
      cacheMax: config.cache.tenantMax,
    });

    // Vault sessions: one per (tenant, user), shared across replicas through the tenant schema.
    if (!secretKey)
      log.warn('SECRET_KEY is not set: stored Vault sessions use a per-process key and are not shared across restarts');
    const cipher = createSessionCipher(secretKey ?? randomBytes(32).toString('base64'));
    const secrets = opts.secrets ?? (() => undefined);
    const sessions = createSessionManager({
      store: createPgSessionStore({
        pool,
        cipher,
        // A caller waits for another replica's login of the same account at most one Vault timeout.
        maxWaitMs: config.vault.timeoutMs,
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

    const vaultMcp = createVaultMcp({ sessions });
    const tools = vaultMcp.tools;
    // Sign-in providers: the server-wide ones from env, and each tenant's own IdP (found by email domain).
    const upstreams = config.oauth
      ? (opts.upstreams ?? createUpstreamRegistry({ config, tenants: resolveTenant, secrets }))
      : undefined;
    if (upstreams?.list().length)
      log.info(
        { redirectUris: redirectUrisToRegister(config.publicUrl, config.upstream) },
        'sign-in providers: register each redirect URI at its provider (tenant IdPs: npm run oauth -- redirect-uris)',
      );
    if (upstreams && !upstreams.list().length)
      log.warn(
        'OAUTH_SERVER_ENABLED: no server-wide sign-in provider (OIDC_CLIENT_ID, GOOGLE_OAUTH_CLIENT_ID, AUTH0_CLIENT_ID, GITHUB_CLIENT_ID): only users of tenants with their own idp can sign in',
      );
    const oauth = config.oauth
      ? createOAuthServer({
          config: {
            ...config.oauth,
            resource: config.resource,
            scopesSupported: scopesSupported(tools),
            defaultScopes: config.auth.defaultScopes,
          },
          pool,
          cipher,
          upstreams: upstreams!,
          resolveTenant,
          log,
          audit,
          metrics,
          cimd: opts.cimd,
        })
      : undefined;
    const auth = createAuthFromConfig(config, {
      pool,
      onError: (e) => log.warn({ err: e.message }, 'api key bookkeeping failed'),
      ownIssuer: oauth && ownIssuerVerifier(config, oauth, resolveTenant),
      listenUrl: config.cache.listenUrl ?? db.url,
    });
    closeAuth = () => auth.close();
    if (auth.providers.length === 1) log.warn('no identity provider is configured: only API keys are accepted on /mcp');
    else log.info({ providers: auth.providers }, 'identity providers enabled');

    const rateLimiter = await createRateLimiterFromConfig(config, { pool, log, metrics });
    closeRateLimiter = async () => rateLimiter?.close();
    const app = createApp({
      config,
      log,
      verifier: auth.verifier,
      tools,
      surface: vaultMcp.surface,
      oauth,
      subjectTokenFor: oauth && ((user) => upstreamSubjectToken(oauth, user)),
      authorizationServers: auth.authorizationServers,
      resolveTenant,
      audit,
      metrics,
      rateLimiter,
      mcpFastPath: opts.mcpFastPath,
      readiness: async () => {
        const s = await migrationStatus(pool, migrations);
        return { ready: s.ready, detail: { pendingControl: s.pendingControl, tenantsBehind: s.tenantsBehind } };
      },
    });
    const edge = config.httpEdge;
    const metricsHttp: HttpHandle | undefined =
      edge.metricsPort === undefined
        ? undefined
        : await listen(createMetricsApp(metrics), { port: edge.metricsPort, host: '127.0.0.1' });
    closeMetricsHttp = async () => metricsHttp?.close(1000);
    const http = await listen(app, {
      port: config.port,
      host: config.host,
      headersTimeoutMs: edge.headersTimeoutMs,
      requestTimeoutMs: edge.requestTimeoutMs,
      keepAliveTimeoutMs: edge.keepAliveTimeoutMs,
      maxConnectionsPerClient: edge.maxConnectionsPerClient,
      onConnectionRefused: () => metrics.connectionsRefused.inc(),
    });
    log.info(
      { url: http.url, resource: config.resource, metrics: metricsHttp?.url, rateLimitStore: rateLimiter?.store },
      'vault-mcp listening',
    );

    let closing: Promise<void> | undefined;
    return {
      url: http.url,
      metricsUrl: metricsHttp?.url,
      config,
      metrics,
      embedded,
      close: () =>
        (closing ??= (async () => {
          try {
            await http.close();
          } finally {
            await closeMetricsHttp().catch(() => undefined);
            await closeRateLimiter().catch(() => undefined);
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
    await closeMetricsHttp().catch(() => undefined);
    await closeRateLimiter().catch(() => undefined);
    await audit.close().catch(() => undefined);
    await closeAuth().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw e;
  }
}

function ownIssuerVerifier(config: Readonly<Config>, oauth: OAuthServer, resolveTenant: TenantResolver) {
  return createOwnIssuerVerifier({
    issuer: oauth.config.issuer,
    audience: config.resource,
    keys: oauth.keys.getKey,
    // Keys carry their own alg: a key made before OAUTH_SIGNING_ALG changed keeps verifying until it expires.
    algorithms: ['ES256', 'EdDSA'],
    clockSkewSeconds: config.auth.clockSkewSeconds,
    resolveTenant,
    // The grants module owns control.oauth_grants: no SQL of its own here.
    grantStatus: async (id) => {
      const g = await oauth.grants.get(id);
      return g && { revoked: g.revokedAt !== null, revokedReason: g.revokedReason, upstream: g.upstream };
    },
  });
}

/**
 * The upstream access token of the grant behind one of our tokens (oauth-mode Vault tenants only),
 * renewed with the upstream refresh token when due; 401 ERR_UPSTREAM_SIGN_IN_REQUIRED when it cannot be.
 */
async function upstreamSubjectToken(oauth: OAuthServer, user: UserContext): Promise<string | undefined> {
  return user.grantId ? oauth.upstreamTokens.accessToken(user.grantId) : undefined;
}

async function main(): Promise<void> {
  // A ConfigError (bad env or TENANTS_FILE) is reported by the entry's catch below with exit 78.
  const config = loadConfig(process.env);
  // Readable lines in a development terminal; JSON lines everywhere else.
  const log = createLogger({ level: config.logLevel, pretty: config.env === 'development' });
  const running = await start(config, { log, secrets: (name) => process.env[name] }).catch((e: unknown) => {
    throw asPortInUse(e, config.port, 'PORT', config.host);
  });
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
