/**
 * Boot the real server (same `start()` as production) against a fresh database and a local OIDC issuer.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose';
import { loadConfig, type Env } from '../../src/config/index.js';
import { startDevIssuer, type DevIssuer, type MintOptions } from '../../src/dev/issuer.js';
import { createLogger } from '../../src/log/index.js';
import { start, type Running, type StartOptions } from '../../src/main.js';
import { createTestDatabase, type TestDb } from './db.js';

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

export async function startTestServer(env: Env = {}, opts: Omit<StartOptions, 'log'> = {}): Promise<TestServer> {
  const db = await createTestDatabase();
  const issuer = await startDevIssuer();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    OIDC_ISSUER: issuer.issuer,
    SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const running = await start(config, { ...opts, log: createLogger({ level: config.logLevel }) });
  const resource = config.resource;
  return {
    url,
    resource,
    issuer,
    db,
    running,
    token: (claims = {}, opts) =>
      issuer.mint({ sub: 'user-1', aud: resource, email: 'qa.manager@acme.com', email_verified: true, scope: 'vault:read', ...claims }, opts),
    async close() {
      try {
        await running.close();
      } finally {
        await issuer.close();
        await db.drop();
      }
    },
  };
}
