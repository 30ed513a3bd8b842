/**
 * A tenant whose Vault is the simulator, in a fresh database with the tenant schema migrated; plus a
 * CallContext builder for calling tools and the session manager directly.
 */
import type { UserContext } from '../../src/auth/types.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateSchemaName } from '../../src/db/schema-name.js';
import type { CallContext } from '../../src/context/call-context.js';
import { defaultSeed, type SimSeed } from '../../src/dev/vault-sim/seed.js';
import { TenantVaultSchema, type Tenant, type VaultAuth } from '../../src/tenancy/tenant.js';
import { createTestDatabase, type TestDb } from './db.js';

export const TEST_SECRET_KEY = 'test-secret-key-0123456789abcdef0123456789';
export const SIM_SECRETS: Record<string, string> = { ACME_VAULT_PASSWORD: 'sim-password' };

export function makeTenant(simUrl: string, auth: VaultAuth, id = 'acme'): Tenant {
  return {
    id,
    name: 'Acme',
    schema: generateSchemaName(),
    vault: TenantVaultSchema.parse({ url: simUrl, apiVersion: 'v25.2', auth }),
  };
}

export const SA_AUTH: VaultAuth = {
  mode: 'service_account',
  username: 'integration@acme.com',
  passwordEnv: 'ACME_VAULT_PASSWORD',
};
export const DELEGATED_AUTH: VaultAuth = {
  mode: 'delegated',
  username: 'integration@acme.com',
  passwordEnv: 'ACME_VAULT_PASSWORD',
};

/** Insert the tenant into control.tenants and migrate, so its schema and vault_sessions exist. */
export async function provisionTenant(pool: Pool, tenant: Tenant): Promise<void> {
  await migrate(pool);
  await pool.query('INSERT INTO control.tenants (id, schema_name, display_name, vault) VALUES ($1, $2, $3, $4)', [
    tenant.id,
    tenant.schema,
    tenant.name,
    JSON.stringify(tenant.vault),
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

/** What makes one tenant's simulated Vault unique (isolation tests). */
export interface CanaryVault {
  /** Written into every document name, one deviation record and one workflow task. */
  mark: string;
  /** Users' email domain (the seed's acme.com users become <name>@domain). */
  domain: string;
  /** Every user's password (so one tenant's secret cannot open the other's Vault). */
  password: string;
  /** Id of an extra document only this Vault has. */
  docId: number;
  /** Id of an extra deviation__c record only this Vault has (a task of the QA manager is on it). */
  recordId: string;
}

/**
 * The default seed, made this tenant's: its users' domain and password, the mark in every document
 * name, plus a canary document, deviation record and workflow task with ids no other Vault has.
 *
 * @example
 * const sim = await startVaultSimulator({ seed: canarySeed({ mark, domain: 'twin-a.com', password, docId: 7711001, recordId: 'V0D00000000A901' }) });
 */
export function canarySeed(c: CanaryVault): SimSeed {
  const seed = defaultSeed();
  seed.vaultName = `QualityDocs ${c.mark}`;
  for (const u of seed.users) {
    u.user_name__v = u.user_name__v.replace(/@acme\.com$/, `@${c.domain}`);
    u.user_email__v = u.user_email__v.replace(/@acme\.com$/, `@${c.domain}`);
    u.password = c.password;
  }
  for (const d of seed.documents) d.title__v = d.name__v = `${String(d.name__v)} ${c.mark}`;
  const first = seed.documents[0]!;
  seed.documents.push({
    ...first,
    id: c.docId,
    name__v: `Canary SOP ${c.mark}`,
    title__v: `Canary SOP ${c.mark}`,
    document_number__v: `QD-${c.docId}`,
  });
  (seed.documentTexts ??= {})[c.docId] = `Canary SOP text ${c.mark}`;
  seed.objects.deviation__c!.push({
    id: c.recordId,
    name__v: `DEV-${c.mark}`,
    status__v: 'open__c',
    severity__c: 'minor__c',
    site__c: 'Boston',
    created_date__v: '2026-04-01T00:00:00.000Z',
  });
  seed.tasks.push({
    id: c.docId + 1,
    label__v: 'Review',
    status__v: ['available__v'],
    object__v: 'deviation__c',
    record_id__v: c.recordId,
    assignee__v: '1001',
    instructions__v: `Review ${c.mark}`,
    created_date__v: '2026-04-01T10:00:00.000Z',
    workflow__v: '901',
  });
  return seed;
}
