/**
 * Tenancy fixtures: a fresh migrated database with tenants provisioned through the real code path,
 * and canary rows that must never show up in another tenant's results.
 */
import { randomBytes } from 'node:crypto';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/with-tenant.js';
import {
  DEFAULT_PUBLIC_EMAIL_DOMAINS,
  provisionTenants,
  type Provisioned,
  type TenantInput,
} from '../../src/tenancy/index.js';
import { createTestDatabase, type TestDb } from './db.js';

export interface TenantDb {
  db: TestDb;
  pool: Pool;
  deps: {
    migrations: Awaited<ReturnType<typeof loadMigrations>>['tenant'];
    roles: boolean;
    publicDomains: Set<string>;
  };
  provision(inputs: TenantInput[]): Promise<Provisioned[]>;
  close(): Promise<void>;
}

export function tenantInput(id: string, domains: string[], extra: Partial<TenantInput> = {}): TenantInput {
  return {
    id,
    domains,
    includeSubdomains: false,
    vault: {
      url: `https://${id}.veevavault.com`,
      apiVersion: 'v25.2',
      auth: { mode: 'service_account', username: `bot@${domains[0]}` },
    },
    ...extra,
  };
}

export async function createTenantDb(opts: { poolMax?: number; roles?: boolean } = {}): Promise<TenantDb> {
  const db = await createTestDatabase();
  const roles = opts.roles ?? true;
  const pool = createPool({ url: db.url, max: opts.poolMax ?? 4, statementTimeoutMs: 10_000, tenantRoles: roles });
  const m = await loadMigrations();
  await migrate(pool, { migrations: m });
  const deps = { migrations: m.tenant, roles, publicDomains: new Set(DEFAULT_PUBLIC_EMAIL_DOMAINS) };
  return {
    db,
    pool,
    deps,
    provision: (inputs) => provisionTenants(pool, inputs, deps),
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/** A unique marker; `plant` writes it into every tenant table so any leak is visible. */
export function canary(label: string): string {
  return `CANARY-${label}-${randomBytes(6).toString('hex')}`;
}

export async function plantCanary(pool: Pool, t: Provisioned, mark: string): Promise<void> {
  await withTenant(pool, t.schema, async (tx) => {
    await tx.query(
      "INSERT INTO audit_log (subject, outcome, details) VALUES ($1, 'ok', jsonb_build_object('canary', $1::text))",
      [mark],
    );
    await tx.query('INSERT INTO user_mappings (subject, email, vault_username) VALUES ($1, $2, $1)', [
      mark,
      `${mark.toLowerCase()}@example.com`,
    ]);
    await tx.query(
      "INSERT INTO vault_sessions (key, vault_user, ciphertext, expires_at) VALUES ($1, $1, '\\x00', now() + interval '1 hour')",
      [mark],
    );
  });
}

/** Every tenant table, dumped as text: what a leak would have to show up in. */
export async function dumpTenant(pool: Pool, t: Provisioned): Promise<string> {
  return withTenant(pool, t.schema, async (tx) => {
    const parts: unknown[] = [];
    for (const table of ['audit_log', 'user_mappings', 'vault_sessions'])
      parts.push((await tx.query(`SELECT * FROM ${table}`)).rows);
    return JSON.stringify(parts);
  });
}
