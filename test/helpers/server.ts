/**
 * Boot the real server (same `start()` as production) against a fresh database and a local OIDC issuer.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose';
import { loadConfig, type Env } from '../../src/config/index.js';
import { startDevIssuer, type DevIssuer, type MintOptions } from '../../src/dev/issuer.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running, type StartOptions } from '../../src/main.js';
import { createTestDatabase, type TestDb } from './db.js';
import { TEST_METRICS_TOKEN } from './metrics.js';

export interface TestServer {
  url: string;
  /** The protected resource (`url + /mcp`), the default audience. */
  resource: string;
  issuer: DevIssuer;
  db: TestDb;
  running: Running;
  /** A valid token for `claims` (defaults: sub, email verified, aud = resource, scope vault:read). */
  token(claims?: JWTPayload, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** The tenants every test server knows unless the test passes its own TENANTS_FILE. */
export const DEFAULT_TEST_TENANTS = {
  tenants: [
    {
      id: 'acme',
      name: 'Acme Pharma',
      domains: ['acme.com'],
      vault: {
        url: 'https://acme.veevavault.com',
        auth: { mode: 'service_account', username: 'bot@acme.com', passwordEnv: 'ACME_VAULT_PASSWORD' },
      },
    },
  ],
};

/** Write a tenants file to a fresh temp dir; returns its path and a cleanup. */
export async function writeTenantsFile(content: unknown): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vmcp-tenants-'));
  const file = path.join(dir, 'tenants.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The SECRET_KEY of every test server (audit chain keys derive from it). */
export const TEST_SECRET_KEY = 'test-secret-key-0123456789abcdef0123456789';

export interface TestServerOptions extends Omit<StartOptions, 'log' | 'secrets'> {
  /**
   * Run the server as this (existing, LOGIN) role, which owns nothing: DATABASE_URL connects as it and
   * MIGRATION_DATABASE_URL as the test database's owner.
   */
  servingRole?: string;
  /** Where log lines go (tests that inspect logs); default nowhere unless TEST_LOG_LEVEL is set. */
  logTo?: NodeJS.WritableStream;
  /** What start()'s secrets lookup answers (main() builds it from process.env): passwordEnv / clientSecretEnv values. */
  secrets?: Record<string, string>;
  /** Use this issuer (e.g. one with confidential clients for token exchange) instead of a fresh one; the caller closes it. */
  issuer?: DevIssuer;
}

export async function startTestServer(env: Env = {}, opts: TestServerOptions = {}): Promise<TestServer> {
  const tenantsFile = env.TENANTS_FILE ? undefined : await writeTenantsFile(DEFAULT_TEST_TENANTS);
  const db = await createTestDatabase();
  const issuer = opts.issuer ?? (await startDevIssuer());
  const closeIssuer = () => (opts.issuer ? Promise.resolve() : issuer.close());
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: opts.servingRole ? withUser(db.url, opts.servingRole) : db.url,
    ...(opts.servingRole ? { MIGRATION_DATABASE_URL: db.url } : {}),
    OIDC_ISSUER: issuer.issuer,
    SECRET_KEY: TEST_SECRET_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    TENANTS_FILE: tenantsFile?.file,
    METRICS_TOKEN: TEST_METRICS_TOKEN,
    ...env,
  });
  let running: Running;
  try {
    const { logTo, secrets = {}, issuer: _issuer, servingRole: _role, ...startOpts } = opts;
    running = await start(config, {
      ...startOpts,
      log: createLogger({ level: config.logLevel, destination: logTo }),
      secrets: (name) => (Object.hasOwn(secrets, name) ? secrets[name] : undefined),
    });
  } catch (e) {
    // A refused boot (bad TENANTS_FILE …) must not leak the database or the issuer.
    await closeIssuer();
    await db.drop();
    await tenantsFile?.remove();
    throw e;
  }
  const resource = config.resource;
  return {
    url,
    resource,
    issuer,
    db,
    running,
    token: (claims = {}, opts) =>
      issuer.mint(
        {
          sub: 'user-1',
          aud: resource,
          email: 'qa.manager@acme.com',
          email_verified: true,
          scope: 'vault:read',
          ...claims,
        },
        opts,
      ),
    async close() {
      try {
        await running.close();
      } finally {
        await closeIssuer();
        await db.drop();
        await tenantsFile?.remove();
      }
    },
  };
}

/** `url` connecting as another user (no password: the test Postgres trusts local connections). */
export function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = '';
  return u.toString();
}
