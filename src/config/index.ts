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
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const bool = (dflt: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? dflt : ['true', '1', 'yes'].includes(v)));

const int = (dflt: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(dflt);

const url = z.url({ protocol: /^https?$/ });

/** JWS algorithms we accept at all; `none` and HMAC are never accepted for third-party tokens. */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const algList = (dflt: string) =>
  z
    .string()
    .default(dflt)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(ASYMMETRIC_ALGS)).min(1));

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: int(3000, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: url.optional(),
  ALLOWED_HOSTS: csv,
  TRUST_PROXY: z.string().default('false'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: int(5433, 1, 65535),
  DB_POOL_MAX: int(10, 1, 1000),
  DB_STATEMENT_TIMEOUT_MS: int(15000, 100, 600000),
  MIGRATE_ON_BOOT: bool(true),
  TENANTS_FILE: z.string().min(1).optional(),
  SECRET_KEY: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),

  CLOCK_SKEW_SECONDS: int(60, 0, 600),
  MAX_TOKEN_BYTES: int(16384, 512, 1048576),
  DEFAULT_SCOPES: csv,

  OIDC_ISSUER: url.optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  OIDC_JWKS_URI: url.optional(),
  OIDC_ALGORITHMS: algList('RS256,ES256,PS256'),

  // Operations: audit group commit, metrics, rate limits (docs/operations.md).
  AUDIT_BATCH_MAX: int(256, 1, 4000),
  AUDIT_LINGER_MS: int(0, 0, 100),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RATE_LIMIT_PER_MINUTE: int(1200, 0, 10_000_000),
  RATE_LIMIT_BURST: int(200, 1, 10_000_000),
});

export type Env = Record<string, string | undefined>;

/** The validated, frozen configuration. */
export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  /** Public base URL, no trailing slash. */
  publicUrl: string;
  /** The protected resource identifier (RFC 8707 / RFC 9728): `publicUrl + /mcp`. */
  resource: string;
  allowedHosts: string[];
  trustProxy: string;
  logLevel: string;
  db: {
    /** Unset → an embedded Postgres under `dataDir`. */
    url: string | undefined;
    dataDir: string;
    embeddedPort: number;
    poolMax: number;
    statementTimeoutMs: number;
    migrateOnBoot: boolean;
  };
  tenantsFile: string | undefined;
  secretKey: string | undefined;
  auth: {
    clockSkewSeconds: number;
    maxTokenBytes: number;
    /** Scopes granted when a token carries none that we recognise (default `vault:read`). */
    defaultScopes: string[];
    oidc: { issuer: string; audience: string; jwksUri: string | undefined; algorithms: string[] } | undefined;
  };
  audit: {
    /** Most rows per audit transaction. */
    batchMax: number;
    /** How long an idle audit queue waits before flushing (0 = next event-loop turn). */
    lingerMs: number;
  };
  metrics: {
    /** Bearer token for GET /metrics; unset → loopback clients only. */
    token: string | undefined;
  };
  rateLimit: {
    /** Sustained requests per minute per tenant (per subject when no tenant); 0 disables. */
    perMinute: number;
    burst: number;
  };
}

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
  if (problems.length) throw new ConfigError(problems);

  const config: Config = {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    resource,
    allowedHosts: e.ALLOWED_HOSTS,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    db: {
      url: e.DATABASE_URL,
      dataDir: e.DATA_DIR,
      embeddedPort: e.EMBEDDED_PG_PORT,
      poolMax: e.DB_POOL_MAX,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      migrateOnBoot: e.MIGRATE_ON_BOOT,
    },
    tenantsFile: e.TENANTS_FILE,
    secretKey: e.SECRET_KEY,
    auth: {
      clockSkewSeconds: e.CLOCK_SKEW_SECONDS,
      maxTokenBytes: e.MAX_TOKEN_BYTES,
      defaultScopes: e.DEFAULT_SCOPES.length ? e.DEFAULT_SCOPES : ['vault:read'],
      oidc: e.OIDC_ISSUER
        ? {
            issuer: e.OIDC_ISSUER,
            audience: e.OIDC_AUDIENCE ?? resource,
            jwksUri: e.OIDC_JWKS_URI,
            algorithms: e.OIDC_ALGORITHMS,
          }
        : undefined,
    },
    audit: { batchMax: e.AUDIT_BATCH_MAX, lingerMs: e.AUDIT_LINGER_MS },
    metrics: { token: e.METRICS_TOKEN },
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE, burst: e.RATE_LIMIT_BURST },
  };
  return deepFreeze(config);
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
