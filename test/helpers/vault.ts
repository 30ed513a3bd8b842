/**
 * A tenant whose Vault is the simulator, in a fresh database with the tenant schema migrated; plus a
 * CallContext builder for calling tools and the session manager directly.
 */
import type { UserContext } from '../../src/auth/types.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateSchemaName } from '../../src/db/schema-name.js';
import type { CallContext } from '../../src/mcp/context.js';
import { TenantVaultSchema, type Tenant, type VaultAuth } from '../../src/tenancy/tenant.js';
import { createTestDatabase, type TestDb } from './db.js';

export const TEST_SECRET_KEY = 'test-secret-key-0123456789abcdef0123456789';
export const SIM_SECRETS: Record<string, string> = { ACME_VAULT_PASSWORD: 'sim-password' };

export function makeTenant(simUrl: string, auth: VaultAuth, id = 'acme'): Tenant {
  return { id, name: 'Acme', schema: generateSchemaName(), vault: TenantVaultSchema.parse({ url: simUrl, apiVersion: 'v25.2', auth }) };
}

export const SA_AUTH: VaultAuth = { mode: 'service_account', username: 'integration@acme.com', passwordEnv: 'ACME_VAULT_PASSWORD' };
export const DELEGATED_AUTH: VaultAuth = { mode: 'delegated', username: 'integration@acme.com', passwordEnv: 'ACME_VAULT_PASSWORD' };

/** Insert the tenant into control.tenants and migrate, so its schema and vault_sessions exist. */
export async function provisionTenant(pool: Pool, tenant: Tenant): Promise<void> {
  await migrate(pool);
  await pool.query('INSERT INTO control.tenants (id, schema_name, display_name, vault) VALUES ($1, $2, $3, $4)', [
    tenant.id, tenant.schema, tenant.name, JSON.stringify(tenant.vault),
  ]);
  const report = await migrate(pool);
  const failed = report.tenants.find((t) => t.error);
  if (failed) throw new Error(`tenant migration failed: ${failed.error}`);
}

export async function createTenantDb(): Promise<{ db: TestDb; pool: Pool; newPool(): Pool; close(): Promise<void> }> {
  const db = await createTestDatabase();
  const pools: Pool[] = [];
  const newPool = () => {
    const p = createPool({ url: db.url, max: 5, statementTimeoutMs: 15000 });
    pools.push(p);
    return p;
  };
  const pool = newPool();
  return {
    db,
    pool,
    newPool,
    async close() {
      for (const p of pools) await p.end().catch(() => undefined);
      await db.drop();
    },
  };
}

export function ctxFor(tenant: Tenant | undefined, email: string, scopes = ['vault:read'], sub = email): CallContext {
  const user: UserContext = {
    subject: `oidc:https://idp.test|${sub}`,
    provider: 'oidc',
    issuer: 'https://idp.test',
    email,
    emailVerified: true,
    scopes,
    clientId: 'test-client',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  };
  return { user, tenant, requestId: 'req-test' };
}
