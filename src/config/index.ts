/**
 * The one place that reads the environment. `loadConfig(env)` validates every key with zod, reports
 * every problem at once (as a {@link ConfigError}) and returns a frozen, typed object.
 *
 * @module
 */
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';

const csv = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const bool = (dflt: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? dflt : ['true', '1', 'yes'].includes(v)));

const int = (dflt: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(dflt);

const url = z.url({ protocol: /^https?$/ });

/** JWS algorithms we accept at all; `none` and HMAC are never accepted for third-party tokens. */
export const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
const algList = (dflt: string) =>
  z
    .string()
    .default(dflt)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(ASYMMETRIC_ALGS)).min(1));

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: int(3000, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: url.optional(),
  ALLOWED_HOSTS: csv,
  TRUST_PROXY: z.string().default('false'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: int(5433, 1, 65535),
  DB_POOL_MAX: int(10, 1, 1000),
  DB_STATEMENT_TIMEOUT_MS: int(15000, 100, 600000),
  MIGRATE_ON_BOOT: bool(true),
  TENANTS_FILE: z.string().min(1).optional(),
  DB_TENANT_ROLES: bool(true),
  PUBLIC_EMAIL_DOMAINS_POLICY: z.enum(['refuse', 'personal']).default('refuse'),
  PUBLIC_EMAIL_DOMAINS: z.string().optional(),
  PERSONAL_TENANT_TEMPLATE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a tenant id')
    .optional(),
  TENANT_CACHE_TTL_MS: int(30000, 0, 3600000),
  SECRET_KEY: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),

  CLOCK_SKEW_SECONDS: int(60, 0, 600),
  MAX_TOKEN_BYTES: int(16384, 512, 1048576),
  DEFAULT_SCOPES: csv,

  OIDC_ISSUER: url.optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  OIDC_JWKS_URI: url.optional(),
  OIDC_ALGORITHMS: algList('RS256,ES256,PS256'),

  JWKS_CACHE_MAX_AGE_SECONDS: int(600, 10, 86400),
  JWKS_COOLDOWN_SECONDS: int(30, 0, 3600),
  OPAQUE_TOKEN_CACHE_SECONDS: int(300, 0, 3600),
  OPAQUE_TOKEN_NEGATIVE_CACHE_SECONDS: int(30, 0, 3600),
  JWT_CACHE_SECONDS: int(60, 0, 60),

  GOOGLE_CLIENT_IDS: csv,
  GOOGLE_JWKS_URI: url.default('https://www.googleapis.com/oauth2/v3/certs'),
  GOOGLE_TOKENINFO_URL: url.default('https://oauth2.googleapis.com/tokeninfo'),
  GOOGLE_HOSTED_DOMAINS: csv,

  AUTH0_DOMAIN: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i,
      'must be a host name like acme.eu.auth0.com (no https://)',
    )
    .optional(),
  AUTH0_AUDIENCE: z.string().min(1).optional(),
  AUTH0_ISSUER_URL: url.optional(),
  AUTH0_CLAIMS_NAMESPACE: z.string().min(1).default('https://vault-mcp/'),

  GITHUB_ENABLED: bool(false),
  GITHUB_API_URL: url.default('https://api.github.com'),
  GITHUB_CLIENT_ID: z
    .string()
    .regex(/^[\w.-]+$/, 'must be a GitHub OAuth app client id')
    .optional(),
  GITHUB_CLIENT_SECRET: z.string().min(1).optional(),
  GITHUB_ACTIONS_AUDIENCE: z.string().min(1).optional(),
  GITHUB_ACTIONS_ISSUER: url.default('https://token.actions.githubusercontent.com'),
  GITHUB_ACTIONS_REPOSITORIES: csv,
  GITHUB_ACTIONS_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a tenant id')
    .optional(),
  GITHUB_ACTIONS_SCOPES: csv,
  // Vault client and sessions (src/vault).
  VAULT_TIMEOUT_MS: int(30000, 1000, 300000),
  VAULT_MAX_RETRIES: int(3, 0, 10),
  VAULT_SESSION_IDLE_SECONDS: int(600, 60, 172800),
  VAULT_KEEPALIVE: bool(true),
  VAULT_CLIENT_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,50}$/, 'letters, digits, . _ - (max 50)')
    .default('vault-mcp'),
  // Operations: audit group commit, metrics, rate limits (docs/operations.md).
  AUDIT_BATCH_MAX: int(256, 1, 4000),
  AUDIT_LINGER_MS: int(0, 0, 100),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RATE_LIMIT_PER_MINUTE: int(1200, 0, 10_000_000),
  RATE_LIMIT_BURST: int(200, 1, 10_000_000),
  // Audit trail hardening (issue #12): keyed chain rotation, a separate owner role for migrations.
  SECRET_KEY_PREVIOUS: csv.pipe(z.array(z.string().min(32, 'each key must be at least 32 characters'))),
  MIGRATION_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  // Upstream sign-in providers of the OAuth authorization server (src/oauth/upstream, docs/auth.md).
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  GOOGLE_OAUTH_CLIENT_ID: z.string().min(1).optional(),
  GOOGLE_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
  GOOGLE_ISSUER: url.default('https://accounts.google.com'),
  GITHUB_OAUTH_URL: url.default('https://github.com'),
  AUTH0_CLIENT_ID: z.string().min(1).optional(),
  AUTH0_CLIENT_SECRET: z.string().min(1).optional(),
  UPSTREAM_TIMEOUT_MS: int(5000, 500, 60000),
  UPSTREAM_METADATA_CACHE_SECONDS: int(3600, 0, 86400),
  // OAuth authorization server (src/oauth, docs/auth.md "Authorization server").
  OAUTH_SERVER_ENABLED: bool(false),
  OAUTH_ACCESS_TOKEN_TTL_SECONDS: int(900, 60, 3600),
  OAUTH_REFRESH_TOKEN_TTL_SECONDS: int(2_592_000, 3600, 31_536_000),
  OAUTH_CODE_TTL_SECONDS: int(60, 5, 60),
  OAUTH_LOGIN_TTL_SECONDS: int(600, 60, 3600),
  OAUTH_SIGNING_ALG: z.enum(['ES256', 'EdDSA']).default('ES256'),
  OAUTH_DCR_ENABLED: bool(true),
  OAUTH_DCR_PER_HOUR: int(60, 0, 100_000),
  OAUTH_RATE_LIMIT_PER_MINUTE: int(120, 0, 1_000_000),
  OAUTH_CIMD_ENABLED: bool(true),
  OAUTH_CIMD_TIMEOUT_MS: int(3000, 100, 30000),
  OAUTH_CIMD_MAX_BYTES: int(5120, 512, 65536),
  OAUTH_CIMD_CACHE_MAX_SECONDS: int(3600, 0, 86400),
  // HTTP edge: body limits, server timeouts, per-client connection cap, metrics port, shared rate limits (docs/operations.md).
  HTTP_BODY_LIMIT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  HTTP_BODY_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_REQUEST_TIMEOUT_MS: int(30_000, 100, 3_600_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(65_000, 100, 3_600_000),
  HTTP_MAX_CONNECTIONS_PER_CLIENT: int(256, 0, 1_000_000),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  RATE_LIMIT_STORE: z.enum(['auto', 'postgres', 'redis', 'memory']).default('auto'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  RATE_LIMIT_KEY_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'letters, digits, _ : . - (max 64)')
    .default('vault-mcp:rl'),
  RATE_LIMIT_STORE_TIMEOUT_MS: int(250, 10, 10_000),
  RATE_LIMIT_SYNC_MS: int(100, 0, 10_000),
  // Performance (issue 14): the API-key cache (evicted through LISTEN/NOTIFY) and the caps of the
  // in-memory caches (least recently used entries are evicted first).
  API_KEY_CACHE_SECONDS: int(30, 0, 300),
  API_KEY_LAST_USED_SECONDS: int(60, 1, 3600),
  DB_LISTEN_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  IDENTITY_CACHE_MAX: int(10_000, 100, 1_000_000),
  VAULT_SESSION_CACHE_MAX: int(10_000, 10, 1_000_000),
  TENANT_CACHE_MAX: int(10_000, 10, 1_000_000),
  // Step-up (MCP authorization, scope challenge): how a tools/call without the needed scope is answered.
  STEP_UP_MODE: z.enum(['http', 'tool_error']).default('http'),
  // OAuth security review: a grant's longest life (refresh refused after it: sign in again).
  OAUTH_GRANT_MAX_AGE_SECONDS: int(604_800, 3600, 31_536_000),
});

export type Env = Record<string, string | undefined>;

/** The validated, frozen configuration: its type is derived from the schema through {@link toConfig}. */
export type Config = ReturnType<typeof toConfig>;

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
}

/**
 * Parse and validate the environment. Throws a {@link ConfigError} listing every problem.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: Env): Readonly<Config> {
  // Empty strings mean "unset" for every key: docker-compose and .env files produce them a lot.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  const e = parsed.data;
  const problems: string[] = [];

  const publicUrl = (e.PUBLIC_URL ?? `http://${hostForUrl(e.HOST)}:${e.PORT}`).replace(/\/+$/, '');
  const resource = `${publicUrl}/mcp`;
  if (e.NODE_ENV === 'production' && e.DATABASE_URL && !e.SECRET_KEY) {
    problems.push('SECRET_KEY: required when DATABASE_URL is set (it encrypts stored Vault sessions)');
  }
  if (e.OIDC_JWKS_URI && !e.OIDC_ISSUER) problems.push('OIDC_JWKS_URI: set OIDC_ISSUER too');
  if (e.OIDC_AUDIENCE && !e.OIDC_ISSUER) problems.push('OIDC_AUDIENCE: set OIDC_ISSUER too');
  if (e.GOOGLE_HOSTED_DOMAINS.length && !e.GOOGLE_CLIENT_IDS.length && !e.GOOGLE_OAUTH_CLIENT_ID)
    problems.push('GOOGLE_HOSTED_DOMAINS: set GOOGLE_CLIENT_IDS (or GOOGLE_OAUTH_CLIENT_ID) too');
  if (e.AUTH0_AUDIENCE && !e.AUTH0_DOMAIN) problems.push('AUTH0_AUDIENCE: set AUTH0_DOMAIN too');
  if (e.AUTH0_ISSUER_URL && !e.AUTH0_DOMAIN) problems.push('AUTH0_ISSUER_URL: set AUTH0_DOMAIN too');
  if (!e.GITHUB_CLIENT_ID !== !e.GITHUB_CLIENT_SECRET)
    problems.push('GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET: set both or neither');
  if (e.GITHUB_CLIENT_ID && !e.GITHUB_ENABLED) problems.push('GITHUB_CLIENT_ID: set GITHUB_ENABLED=true too');
  if (e.GITHUB_ACTIONS_AUDIENCE) {
    // Any workflow on GitHub can mint a token for any audience: without a repository allow-list the
    // audience would let every GitHub repository in.
    if (!e.GITHUB_ACTIONS_REPOSITORIES.length)
      problems.push(
        'GITHUB_ACTIONS_REPOSITORIES: required with GITHUB_ACTIONS_AUDIENCE (owner/repo or owner/*, comma-separated)',
      );
    const bad = e.GITHUB_ACTIONS_REPOSITORIES.filter((r) => !/^[\w.-]+\/([\w.-]+|\*)$/.test(r));
    if (bad.length) problems.push(`GITHUB_ACTIONS_REPOSITORIES: '${bad.join("', '")}' is not owner/repo or owner/*`);
    if (!e.GITHUB_ACTIONS_TENANT)
      problems.push(
        'GITHUB_ACTIONS_TENANT: required with GITHUB_ACTIONS_AUDIENCE (workflow tokens carry no email to map to a tenant)',
      );
  } else {
    for (const k of ['GITHUB_ACTIONS_REPOSITORIES', 'GITHUB_ACTIONS_TENANT', 'GITHUB_ACTIONS_SCOPES'] as const) {
      if (e[k]?.length) problems.push(`${k}: set GITHUB_ACTIONS_AUDIENCE too`);
    }
  }
  if (e.PUBLIC_EMAIL_DOMAINS_POLICY === 'personal' && !e.PERSONAL_TENANT_TEMPLATE) {
    problems.push(
      'PERSONAL_TENANT_TEMPLATE: required when PUBLIC_EMAIL_DOMAINS_POLICY=personal (the tenant whose Vault settings personal tenants use)',
    );
  }
  if (e.MIGRATION_DATABASE_URL && !e.DATABASE_URL)
    problems.push('MIGRATION_DATABASE_URL: set DATABASE_URL too (the role the server runs as)');
  if (e.SECRET_KEY_PREVIOUS.length && !e.SECRET_KEY) problems.push('SECRET_KEY_PREVIOUS: set SECRET_KEY too');
  // Upstream sign-in providers: each client id needs its provider, and secrets need their client id.
  if (e.OIDC_CLIENT_ID && !e.OIDC_ISSUER) problems.push('OIDC_CLIENT_ID: set OIDC_ISSUER too');
  if (e.OIDC_CLIENT_SECRET && !e.OIDC_CLIENT_ID) problems.push('OIDC_CLIENT_SECRET: set OIDC_CLIENT_ID too');
  if (!e.GOOGLE_OAUTH_CLIENT_ID !== !e.GOOGLE_OAUTH_CLIENT_SECRET)
    problems.push('GOOGLE_OAUTH_CLIENT_ID / GOOGLE_OAUTH_CLIENT_SECRET: set both or neither');
  if (e.AUTH0_CLIENT_ID && !e.AUTH0_DOMAIN) problems.push('AUTH0_CLIENT_ID: set AUTH0_DOMAIN too');
  if (!e.AUTH0_CLIENT_ID !== !e.AUTH0_CLIENT_SECRET)
    problems.push('AUTH0_CLIENT_ID / AUTH0_CLIENT_SECRET: set both or neither');
  if (cleaned.GITHUB_OAUTH_URL && !e.GITHUB_CLIENT_ID) problems.push('GITHUB_OAUTH_URL: set GITHUB_CLIENT_ID too');
  // Sign-in sends users and client secrets there: https only (plain http on loopback, for local fakes).
  const signIn: [string, string | undefined, unknown][] = [
    ['OIDC_ISSUER', e.OIDC_ISSUER, e.OIDC_CLIENT_ID],
    ['GOOGLE_ISSUER', e.GOOGLE_ISSUER, e.GOOGLE_OAUTH_CLIENT_ID],
    ['GITHUB_OAUTH_URL', e.GITHUB_OAUTH_URL, e.GITHUB_CLIENT_ID],
    ['GITHUB_API_URL', e.GITHUB_API_URL, e.GITHUB_CLIENT_ID],
    ['AUTH0_ISSUER_URL', e.AUTH0_ISSUER_URL, e.AUTH0_CLIENT_ID],
  ];
  for (const [key, value, used] of signIn) {
    if (used && value && !isHttpsOrLoopback(value))
      problems.push(`${key}: must be an https:// URL for sign-in (plain http only on loopback)`);
  }
  if (e.OAUTH_SERVER_ENABLED) {
    // Tokens and sign-in state are encrypted under SECRET_KEY, and the issuer is a public URL.
    if (!e.SECRET_KEY && e.NODE_ENV === 'production')
      problems.push(
        'SECRET_KEY: required with OAUTH_SERVER_ENABLED=true (it encrypts signing keys and upstream tokens)',
      );
    if (!e.PUBLIC_URL && e.NODE_ENV === 'production')
      problems.push('PUBLIC_URL: required with OAUTH_SERVER_ENABLED=true (it is the issuer and the callback base)');
    if (e.PUBLIC_URL && !/^https:/.test(e.PUBLIC_URL) && !isLoopbackUrl(e.PUBLIC_URL))
      problems.push('PUBLIC_URL: must be https with OAUTH_SERVER_ENABLED=true (http only on a loopback host)');
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS)
    problems.push('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  if (e.HTTP_BODY_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS)
    problems.push('HTTP_BODY_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (Node would cut the request first)');
  if (e.RATE_LIMIT_STORE === 'redis' && !e.REDIS_URL) problems.push('RATE_LIMIT_STORE: redis needs REDIS_URL');
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT)
    problems.push('METRICS_PORT: must differ from PORT');
  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(toConfig(e, publicUrl, resource));
}

type ParsedEnv = z.infer<typeof EnvSchema>;

/** Shape the validated environment into the nested configuration (comments say what each field means). */
function toConfig(e: ParsedEnv, publicUrl: string, resource: string) {
  const defaultScopes = e.DEFAULT_SCOPES.length ? e.DEFAULT_SCOPES : ['vault:read'];
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    /** Public base URL, no trailing slash. */
    publicUrl,
    /** The protected resource identifier (RFC 8707 / RFC 9728): `publicUrl + /mcp`. */
    resource,
    allowedHosts: e.ALLOWED_HOSTS,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    db: {
      /** Unset → an embedded Postgres under `dataDir`. */
      url: e.DATABASE_URL,
      dataDir: e.DATA_DIR,
      embeddedPort: e.EMBEDDED_PG_PORT,
      poolMax: e.DB_POOL_MAX,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      migrateOnBoot: e.MIGRATE_ON_BOOT,
      /** Run tenant transactions as a per-tenant role (needs CREATEROLE). */
      tenantRoles: e.DB_TENANT_ROLES,
    },
    tenantsFile: e.TENANTS_FILE,
    tenancy: {
      /** What to do with users of public email domains (gmail.com …): refuse, or one private tenant each. */
      publicDomainsPolicy: e.PUBLIC_EMAIL_DOMAINS_POLICY,
      /** Replaces the built-in list of public email domains when set. */
      publicDomains:
        e.PUBLIC_EMAIL_DOMAINS === undefined
          ? undefined
          : e.PUBLIC_EMAIL_DOMAINS.split(',')
              .map((d) => d.trim().toLowerCase())
              .filter(Boolean),
      /** Tenant whose Vault configuration personal tenants use. */
      personalTemplate: e.PERSONAL_TENANT_TEMPLATE,
      /** How long domain → tenant lookups are cached in memory (0 = no cache). */
      cacheTtlMs: e.TENANT_CACHE_TTL_MS,
    },
    secretKey: e.SECRET_KEY,
    auth: {
      clockSkewSeconds: e.CLOCK_SKEW_SECONDS,
      maxTokenBytes: e.MAX_TOKEN_BYTES,
      /** Scopes granted when a token carries none that we recognise (default `vault:read`). */
      defaultScopes,
      oidc: e.OIDC_ISSUER
        ? {
            issuer: e.OIDC_ISSUER,
            audience: e.OIDC_AUDIENCE ?? resource,
            jwksUri: e.OIDC_JWKS_URI,
            algorithms: e.OIDC_ALGORITHMS,
          }
        : undefined,
      jwksMaxAgeSeconds: e.JWKS_CACHE_MAX_AGE_SECONDS,
      jwksCooldownSeconds: e.JWKS_COOLDOWN_SECONDS,
      /** TTL of cached opaque-token results (bounded by the token's expiry) and of cached refusals. */
      opaqueCacheSeconds: e.OPAQUE_TOKEN_CACHE_SECONDS,
      opaqueNegativeCacheSeconds: e.OPAQUE_TOKEN_NEGATIVE_CACHE_SECONDS,
      /** TTL of cached VERIFIED JWT results (≤ 60 s, never past exp); 0 verifies every JWT in full. */
      jwtCacheSeconds: e.JWT_CACHE_SECONDS,
      google: e.GOOGLE_CLIENT_IDS.length
        ? {
            clientIds: e.GOOGLE_CLIENT_IDS,
            jwksUri: e.GOOGLE_JWKS_URI,
            tokeninfoUrl: e.GOOGLE_TOKENINFO_URL,
            hostedDomains: e.GOOGLE_HOSTED_DOMAINS.map((d) => d.toLowerCase()),
          }
        : undefined,
      auth0: e.AUTH0_DOMAIN
        ? {
            issuer: e.AUTH0_ISSUER_URL ?? `https://${e.AUTH0_DOMAIN.toLowerCase()}/`,
            audience: e.AUTH0_AUDIENCE ?? resource,
            claimsNamespace: e.AUTH0_CLAIMS_NAMESPACE,
          }
        : undefined,
      github: e.GITHUB_ENABLED
        ? {
            apiUrl: e.GITHUB_API_URL.replace(/\/+$/, ''),
            /** Set: tokens must belong to this GitHub OAuth app. */
            app:
              e.GITHUB_CLIENT_ID && e.GITHUB_CLIENT_SECRET
                ? { clientId: e.GITHUB_CLIENT_ID, clientSecret: e.GITHUB_CLIENT_SECRET }
                : undefined,
          }
        : undefined,
      githubActions: e.GITHUB_ACTIONS_AUDIENCE
        ? {
            issuer: e.GITHUB_ACTIONS_ISSUER.replace(/\/+$/, ''),
            audience: e.GITHUB_ACTIONS_AUDIENCE,
            repositories: e.GITHUB_ACTIONS_REPOSITORIES.map((r) => r.toLowerCase()),
            tenantId: e.GITHUB_ACTIONS_TENANT!,
            scopes: e.GITHUB_ACTIONS_SCOPES.length ? e.GITHUB_ACTIONS_SCOPES : defaultScopes,
          }
        : undefined,
    },
    vault: {
      /** Per-attempt timeout of every Vault call. */
      timeoutMs: e.VAULT_TIMEOUT_MS,
      /** Retries after HTTP 429/503 or API_LIMIT_EXCEEDED. */
      maxRetries: e.VAULT_MAX_RETRIES,
      /** The Vaults' session duration (inactivity timeout); sessions are renewed before it. */
      sessionIdleMs: e.VAULT_SESSION_IDLE_SECONDS * 1000,
      /** Keep sessions in recent use alive with POST /keep-alive. */
      keepAlive: e.VAULT_KEEPALIVE,
      /** X-VaultAPI-ClientID is `<prefix>-<tenant id>`. */
      clientIdPrefix: e.VAULT_CLIENT_ID_PREFIX,
    },
    /** Group commit: most rows per transaction; how long an idle queue waits (0 = next event-loop turn). */
    audit: { batchMax: e.AUDIT_BATCH_MAX, lingerMs: e.AUDIT_LINGER_MS },
    /** Bearer token for GET /metrics; unset → loopback clients only. */
    metrics: { token: e.METRICS_TOKEN },
    /** Sustained requests per minute per tenant (per subject when no tenant; 0 disables) and the burst. */
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE, burst: e.RATE_LIMIT_BURST },
    auditTrail: {
      /** Earlier SECRET_KEY values: verification finds the keys of rows (and heads) written under them. */
      previousSecretKeys: e.SECRET_KEY_PREVIOUS,
      /** The role that owns the schema (migrations, provisioning); unset → DATABASE_URL does both. */
      migrationDatabaseUrl: e.MIGRATION_DATABASE_URL,
    },
    /** Upstream sign-in providers of the authorization server (each set only when configured). */
    upstream: {
      /** Timeout of every call to an upstream (discovery, JWKS, token endpoint, user API); whole seconds for openid-client. */
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      /** How long a discovery document is reused (a failed fetch is not cached). */
      metadataCacheMs: e.UPSTREAM_METADATA_CACHE_SECONDS * 1000,
      clockSkewSeconds: e.CLOCK_SKEW_SECONDS,
      /** ID-token keys: the same JWKS cache settings as bearer tokens. */
      jwksMaxAgeMs: e.JWKS_CACHE_MAX_AGE_SECONDS * 1000,
      jwksCooldownMs: e.JWKS_COOLDOWN_SECONDS * 1000,
      oidc:
        e.OIDC_ISSUER && e.OIDC_CLIENT_ID
          ? {
              issuer: e.OIDC_ISSUER,
              clientId: e.OIDC_CLIENT_ID,
              clientSecret: e.OIDC_CLIENT_SECRET,
              algorithms: e.OIDC_ALGORITHMS,
            }
          : undefined,
      google:
        e.GOOGLE_OAUTH_CLIENT_ID && e.GOOGLE_OAUTH_CLIENT_SECRET
          ? {
              issuer: e.GOOGLE_ISSUER.replace(/\/+$/, ''),
              clientId: e.GOOGLE_OAUTH_CLIENT_ID,
              clientSecret: e.GOOGLE_OAUTH_CLIENT_SECRET,
              hostedDomains: e.GOOGLE_HOSTED_DOMAINS.map((d) => d.toLowerCase()),
            }
          : undefined,
      github:
        e.GITHUB_ENABLED && e.GITHUB_CLIENT_ID && e.GITHUB_CLIENT_SECRET
          ? {
              oauthUrl: e.GITHUB_OAUTH_URL.replace(/\/+$/, ''),
              apiUrl: e.GITHUB_API_URL.replace(/\/+$/, ''),
              clientId: e.GITHUB_CLIENT_ID,
              clientSecret: e.GITHUB_CLIENT_SECRET,
            }
          : undefined,
      auth0:
        e.AUTH0_DOMAIN && e.AUTH0_CLIENT_ID && e.AUTH0_CLIENT_SECRET
          ? {
              issuer: e.AUTH0_ISSUER_URL ?? `https://${e.AUTH0_DOMAIN.toLowerCase()}/`,
              clientId: e.AUTH0_CLIENT_ID,
              clientSecret: e.AUTH0_CLIENT_SECRET,
            }
          : undefined,
    },
    /** The OAuth 2.1 authorization server in front of the upstream identity providers (undefined = off). */
    oauth: e.OAUTH_SERVER_ENABLED
      ? {
          /** Our issuer identifier: the public base URL (RFC 8414 metadata lives under it). */
          issuer: publicUrl,
          accessTokenTtlSeconds: e.OAUTH_ACCESS_TOKEN_TTL_SECONDS,
          refreshTokenTtlSeconds: e.OAUTH_REFRESH_TOKEN_TTL_SECONDS,
          /** Authorization codes live at most this long (≤ 60 s). */
          codeTtlSeconds: e.OAUTH_CODE_TTL_SECONDS,
          /** A sign-in (authorize → upstream → consent) must finish within this. */
          loginTtlSeconds: e.OAUTH_LOGIN_TTL_SECONDS,
          signingAlg: e.OAUTH_SIGNING_ALG,
          /** Dynamic Client Registration (RFC 7591) and its per-IP hourly limit (0 = no limit). */
          dcr: { enabled: e.OAUTH_DCR_ENABLED, perHour: e.OAUTH_DCR_PER_HOUR },
          /** Per client IP on authorize, sign-in, callback, consent, token and revoke (0 = no limit). */
          rateLimitPerMinute: e.OAUTH_RATE_LIMIT_PER_MINUTE,
          /** Client ID Metadata Documents: https client_id URLs fetched with SSRF guards. */
          cimd: {
            enabled: e.OAUTH_CIMD_ENABLED,
            timeoutMs: e.OAUTH_CIMD_TIMEOUT_MS,
            maxBytes: e.OAUTH_CIMD_MAX_BYTES,
            cacheMaxSeconds: e.OAUTH_CIMD_CACHE_MAX_SECONDS,
          },
          /** A grant older than this is not refreshed: the user signs in at the IdP again. */
          grantMaxAgeSeconds: e.OAUTH_GRANT_MAX_AGE_SECONDS,
        }
      : undefined,
    /** HTTP edge (src/http): limits and timeouts of the listener, the metrics port, the rate-limit store. */
    httpEdge: {
      /** Largest request body, after decompression (413 above it). */
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
      /** Deadline for reading a body once the request is authenticated (408 after it). */
      bodyTimeoutMs: e.HTTP_BODY_TIMEOUT_MS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      /** Node's requestTimeout: the whole request (headers and body) must arrive within it. */
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      /** Concurrent connections from one remote address (0 = no cap). */
      maxConnectionsPerClient: e.HTTP_MAX_CONNECTIONS_PER_CLIENT,
      /** Set: /metrics is served on 127.0.0.1:<port> (0 = a random port) and not on the main port without METRICS_TOKEN. */
      metricsPort: e.METRICS_PORT,
      rateLimitStore: {
        /** Where rate-limit counters live: Redis when REDIS_URL is set, else Postgres (auto), or this replica only. */
        kind:
          e.RATE_LIMIT_STORE === 'auto'
            ? e.REDIS_URL
              ? ('redis' as const)
              : ('postgres' as const)
            : e.RATE_LIMIT_STORE,
        redisUrl: e.REDIS_URL,
        keyPrefix: e.RATE_LIMIT_KEY_PREFIX,
        /** A store slower than this (or down) falls back to the in-process limiter. */
        timeoutMs: e.RATE_LIMIT_STORE_TIMEOUT_MS,
        /** Local decisions far from the limit reach the store at most this late (0: every request asks the store). */
        syncMs: e.RATE_LIMIT_SYNC_MS,
      },
    },
    cache: {
      /** Reuse of a verified API-key row while the LISTEN connection is up (0 = read Postgres every time). */
      apiKeySeconds: e.API_KEY_CACHE_SECONDS,
      /** How often `last_used_at` of API keys is written (one statement for every key used meanwhile). */
      apiKeyLastUsedSeconds: e.API_KEY_LAST_USED_SECONDS,
      /** Direct connection for LISTEN (PgBouncer in transaction mode drops notifications); default DATABASE_URL. */
      listenUrl: e.DB_LISTEN_URL,
      /** Most verified identities kept (JWTs, opaque tokens, API keys). */
      identityMax: e.IDENTITY_CACHE_MAX,
      /** Most Vault sessions kept in memory (they stay in Postgres beyond that). */
      vaultSessionMax: e.VAULT_SESSION_CACHE_MAX,
      /** Most tenant lookups kept (domain, id, personal email). */
      tenantMax: e.TENANT_CACHE_MAX,
    },
    /**
     * `http`: HTTP 403 insufficient_scope with the scopes to ask for (compliant clients re-authorize);
     * `tool_error`: a tool error naming the scope, for clients that hang on the 403 (mcp-remote < 0.15).
     */
    stepUpMode: e.STEP_UP_MODE,
  };
}

function isHttpsOrLoopback(u: string): boolean {
  const url = new URL(u);
  return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function isLoopbackUrl(u: string): boolean {
  const h = new URL(u).hostname;
  return h === 'localhost' || h === '127.0.0.1' || h === '[::1]';
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
