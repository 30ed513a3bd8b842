/**
 * Memory of the per-user caches with 10,000 users, their caps, and the cold path:
 *
 * - heap per cached Vault session (the session manager's in-memory cache, 10,000 users, oauth mode
 *   with a stub client and store so only the cache is counted), then the same with a cap of 1,000;
 * - heap per cached verified identity (the JWT result cache of the token dispatcher, 10,000 distinct
 *   tokens), then with a cap of 1,000;
 * - the first tool call of a new user (delegated mode on the Vault simulator: user lookup by email,
 *   delegation grants, one delegated Vault login, session stored in Postgres) beside a warm call of
 *   the same tool on the cached session.
 *
 * Each heap figure comes from its own child process (after a warm-up run of the same code and a
 * forced full GC), so what one measurement leaves behind cannot blur the next.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { createTokenVerifier } from '../src/auth/create-verifier.js';
import type { UserContext } from '../src/auth/types.js';
import { withTenant } from '../src/db/with-tenant.js';
import { startVaultSimulator } from '../src/dev/vault-sim/server.js';
import { QA_MANAGER, QA_SPECIALIST } from '../src/dev/vault-sim/seed.js';
import { createVaultTools } from '../src/mcp/tools/index.js';
import type { VaultClient } from '../src/vault/client.js';
import { createSessionCipher } from '../src/vault/crypto.js';
import { createSessionManager } from '../src/vault/session-manager.js';
import { createPgSessionStore } from '../src/vault/session-store-pg.js';
import type { SessionStore } from '../src/vault/session-store.js';
import {
  createTenantDb,
  ctxFor,
  DELEGATED_AUTH,
  makeTenant,
  provisionTenant,
  SIM_SECRETS,
  TEST_SECRET_KEY,
} from '../test/helpers/vault.js';

const USERS = Number(process.env.BENCH_MEMORY_USERS ?? 10_000);

/** Inputs built before a measurement stay reachable through it (else their freeing would be counted). */
const retained: unknown[] = [];
const heap = () => {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;

async function sessionsHeap(users: number, cap: number): Promise<number> {
  const tenant = makeTenant('https://vault.test', { mode: 'oauth', profileId: 'p1' });
  const client = {
    oauthSession: (_p: string, token: string) =>
      Promise.resolve({ sessionId: `${token}-${'x'.repeat(24)}`, userId: 100000 + token.length }),
    endSession: () => Promise.resolve(),
  } as unknown as VaultClient;
  // A store that keeps nothing: only the manager's own cache is on the heap.
  let ref = 0;
  const store: SessionStore = {
    shared: true,
    getOrCreate: async (_t, _k, _u, login) => {
      const s = await login();
      const now = Date.now();
      return { ...s, createdAt: now, lastUsedAt: now, ref: String(++ref), created: true };
    },
    touch: () => Promise.resolve(),
    remove: () => Promise.resolve(undefined),
    getMapping: () => Promise.resolve(undefined),
    putMapping: () => Promise.resolve(),
  };
  const m = createSessionManager({
    store,
    secrets: () => undefined,
    oauthToken: (ctx) => Promise.resolve(`tok-${ctx.user.subject}`),
    clientFor: () => client,
    keepAliveIntervalMs: 0,
    maxCached: cap,
  });
  const ctxs = Array.from({ length: users }, (_, i) => ctxFor(tenant, `user${i}@acme.com`));
  retained.push(ctxs);
  const before = heap();
  for (const ctx of ctxs) await m.withSession(ctx, () => Promise.resolve());
  const total = heap() - before;
  await m.close();
  return total;
}

async function identitiesHeap(users: number, cap: number): Promise<number> {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  // Flat strings (through a Buffer): a concatenated string is flattened on first hashing, and that
  // freeing would be counted against the cache.
  const tokens = Array.from({ length: users }, (_, i) =>
    Buffer.from(
      `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: 'https://idp.test', sub: `user-${i}`, email: `user${i}@acme.com` })}.${'s'.repeat(86)}`,
    ).toString(),
  );
  retained.push(tokens);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const verifier = createTokenVerifier({
    jwt: [
      {
        issuers: ['https://idp.test'],
        // What a verifier returns for a typical user token (the cache holds these objects).
        verify: (token: string): Promise<UserContext> => {
          const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
            sub: string;
            email: string;
          };
          return Promise.resolve({
            subject: `oidc:https://idp.test|${claims.sub}`,
            provider: 'oidc',
            issuer: 'https://idp.test',
            email: claims.email,
            emailVerified: true,
            scopes: ['vault:read', 'vault:vql'],
            clientId: 'claude-desktop',
            expiresAt: exp,
          });
        },
      },
    ],
    maxTokenBytes: 16384,
    jwtCache: { ttlMs: 60_000, negativeTtlMs: 30_000, maxEntries: cap },
  });
  const before = heap();
  for (const t of tokens) await verifier.verify(t);
  const total = heap() - before;
  return total;
}

/** First call of a new user (one delegated Vault login) against warm calls, on the simulator and Postgres. */
async function coldPath(): Promise<string[]> {
  const sim = await startVaultSimulator({ burstLimit: 1_000_000_000 });
  const env = await createTenantDb();
  try {
    const tenant = makeTenant(sim.url, DELEGATED_AUTH);
    await provisionTenant(env.pool, tenant);
    const sessions = createSessionManager({
      store: createPgSessionStore({ pool: env.pool, cipher: createSessionCipher(TEST_SECRET_KEY) }),
      secrets: (n) => SIM_SECRETS[n],
      keepAliveIntervalMs: 0,
    });
    const tool = createVaultTools({ sessions }).find((t) => t.name === 'documents_query')!;
    const args = z.object(tool.input).parse({ status: ['Effective'], page_size: 25 }) as never;
    const users = [QA_MANAGER, QA_SPECIALIST];
    const ctx = (email: string) => ctxFor(tenant, email, ['vault:read']);
    // The tenant is active: its service-account session exists (a new user in a busy tenant).
    await tool.run(args, ctx(users[0]!));
    const cold: number[] = [];
    const warm: number[] = [];
    const loginsBefore = users.reduce((n, u) => n + sim.loginsFor(u), 0);
    for (let i = 0; i < 30; i++) {
      const email = users[i % 2]!;
      // Forget the user: no session (memory, store, Vault) and no email → Vault user mapping.
      await sessions.revoke(tenant, ctx(email).user.subject);
      await withTenant(env.pool, tenant, (tx) => tx.query('DELETE FROM user_mappings'));
      let t = performance.now();
      await tool.run(args, ctx(email));
      cold.push(performance.now() - t);
      for (let k = 0; k < 10; k++) {
        t = performance.now();
        await tool.run(args, ctx(email));
        warm.push(performance.now() - t);
      }
    }
    const logins = users.reduce((n, u) => n + sim.loginsFor(u), 0) - loginsBefore;
    await sessions.close();
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;
    return [
      `first call of a new user (delegated: user lookup, grants, 1 Vault login, stored session): p50 ${p50(cold).toFixed(2)} ms, p90 ${p90(cold).toFixed(2)} ms (${cold.length} calls, ${logins} Vault user logins)`,
      `warm call, same tool, cached session: p50 ${p50(warm).toFixed(2)} ms, p90 ${p90(warm).toFixed(2)} ms (${warm.length} calls); cold/warm p50 ${(p50(cold) / p50(warm)).toFixed(1)}x`,
    ];
  } finally {
    await env.close();
    await sim.close();
  }
}

export default async function run(): Promise<void> {
  const lines: string[] = [];
  const small = Math.round(USERS / 10);
  const probe = async (what: string, users: number, cap: number) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), what, String(users), String(cap)],
      { env: process.env },
    );
    return Number(stdout.trim());
  };
  // Per entry = the difference between USERS and USERS/10 cached users: fixed costs cancel.
  for (const [what, label] of [
    ['sessions', 'Vault sessions (session manager cache)'],
    ['identities', 'verified identities (JWT result cache)'],
  ] as const) {
    const a = await probe(what, small, USERS);
    const b = await probe(what, USERS, USERS);
    const capped = await probe(what, USERS, small);
    lines.push(
      `${label}: ${kb((b - a) / (USERS - small))} per entry; ${USERS} users: ${kb(b)}; ${USERS} users with a cap of ${small}: ${kb(capped)} (${small} users: ${kb(a)})`,
    );
  }
  lines.push(...(await coldPath()));
  console.log(lines.join('\n'));
}

// Child process: `node --expose-gc --import tsx memory.bench.ts <sessions|identities> <users> <cap>`.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) {
  const [what, users, cap] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const fn = what === 'sessions' ? sessionsHeap : identitiesHeap;
  await fn(Math.min(users, 500), cap); // warm-up: compile the code paths first
  process.stdout.write(`${await fn(users, cap)}\n`);
}
