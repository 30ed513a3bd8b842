/**
 * Provisioning: create or update a tenant. A new tenant gets a generated schema name (never derived
 * from its id or domains); the schema, every tenant migration, its role and grants and the control rows
 * are created in ONE transaction under the tenant's advisory lock, so a tenant either exists completely
 * or not at all. Running it again for an existing id is an idempotent upsert of name, Vault settings
 * and domains (a removed tenant comes back with its data).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { LOCK_NS, migrateTenantInTx, type MigrationFile } from '../db/migrate.js';
import { inTransaction } from '../db/in-transaction.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { generateSchemaName, ident, parseSchemaName, type SchemaName } from '../db/schema-name.js';
import { AppError } from '../errors/index.js';
import { normalizeEmail } from './email-domain.js';
import { isPublicDomain, isPublicSuffix } from './public-domains.js';
import type { TenantInput } from './tenant.js';

export interface ProvisionDeps {
  /** Tenant migration files (`loadMigrations().tenant`). */
  migrations: MigrationFile[];
  /** Create the per-tenant role (DB_TENANT_ROLES). */
  roles: boolean;
  /** Public email domains, which no tenant may claim. */
  publicDomains: ReadonlySet<string>;
  /** MIGRATION_DATABASE_URL: the role the server runs as, granted access to each new tenant. */
  servingRole?: string;
}

/**
 * Provisioning input was refused; `problems` lists each reason (the message joins them).
 *
 * @example
 * catch (e) { if (e instanceof ProvisionError) e.problems.forEach((p) => console.error(p)); }
 */
export class ProvisionError extends AppError {
  readonly problems: readonly string[];
  constructor(code: 'ERR_BAD_REQUEST' | 'ERR_CONFLICT', problems: string[]) {
    super(code, problems.join('; '));
    this.name = 'ProvisionError';
    this.problems = problems;
  }
}

export interface Provisioned {
  id: string;
  schema: SchemaName;
  created: boolean;
}

/**
 * Problems with an input that need no database to find (public suffixes, public mail domains,
 * duplicates).
 *
 * @example
 * const problems = checkTenantInput(input, publicDomains); // [] when fine
 */
export function checkTenantInput(input: TenantInput, publicDomains: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const d of input.domains) {
    if (isPublicSuffix(d))
      problems.push(
        `domain "${d}" is a public suffix (Public Suffix List: anyone can register names under it), which cannot belong to tenant "${input.id}"`,
      );
    else if (isPublicDomain(d, publicDomains))
      problems.push(`domain "${d}" is a public email domain, which cannot belong to tenant "${input.id}"`);
  }
  if (new Set(input.domains).size !== input.domains.length) problems.push(`tenant "${input.id}" lists a domain twice`);
  return problems;
}

/**
 * Create or update one tenant in its own transaction.
 *
 * @example
 * const t = await provisionTenant(pool, input, { migrations: m.tenant, roles: true, publicDomains });
 */
export async function provisionTenant(pool: Pool, input: TenantInput, deps: ProvisionDeps): Promise<Provisioned> {
  const [result] = await provisionTenants(pool, [input], deps);
  return result!;
}

/**
 * Create or update several tenants in ONE transaction: all of them or none (TENANTS_FILE at boot).
 * Throws an AppError (`ERR_BAD_REQUEST` / `ERR_CONFLICT`) naming every problem found.
 *
 * @example
 * await provisionTenants(pool, file.tenants, deps);
 */
export async function provisionTenants(pool: Pool, inputs: TenantInput[], deps: ProvisionDeps): Promise<Provisioned[]> {
  const problems = inputs.flatMap((i) => checkTenantInput(i, deps.publicDomains));
  const ids = new Set<string>();
  const owners = new Map<string, string>();
  for (const i of inputs) {
    if (ids.has(i.id)) problems.push(`tenant "${i.id}" is listed twice`);
    ids.add(i.id);
    for (const d of i.domains) {
      const other = owners.get(d);
      if (other && other !== i.id) problems.push(`domain "${d}" is claimed by both "${other}" and "${i.id}"`);
      owners.set(d, i.id);
    }
  }
  if (problems.length) throw new ProvisionError('ERR_BAD_REQUEST', problems);
  return inTransaction(pool, async (client) => {
    const out: Provisioned[] = [];
    for (const input of inputs) out.push(await provisionTenantInTx(client, input, deps));
    return out;
  });
}

/** Upsert one tenant inside the caller's transaction. */
async function provisionTenantInTx(client: PoolClient, input: TenantInput, deps: ProvisionDeps): Promise<Provisioned> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NS, `tenant:${input.id}`]);
  const taken = await client.query<{ domain: string; tenant_id: string }>(
    'SELECT domain, tenant_id FROM control.tenant_domains WHERE domain = ANY($1) AND tenant_id <> $2 ORDER BY domain',
    [input.domains, input.id],
  );
  if (taken.rows.length) {
    throw new ProvisionError(
      'ERR_CONFLICT',
      taken.rows.map((r) => `domain "${r.domain}" already belongs to tenant "${r.tenant_id}"`),
    );
  }
  const existing = await client.query<{ schema_name: string; personal_email: string | null }>(
    'SELECT schema_name, personal_email FROM control.tenants WHERE id = $1 FOR UPDATE',
    [input.id],
  );
  const row = existing.rows[0];
  if (row?.personal_email)
    throw new ProvisionError('ERR_CONFLICT', [`tenant "${input.id}" is a personal tenant and cannot be edited`]);
  const schema = row ? parseSchemaName(row.schema_name) : generateSchemaName();
  await client.query(
    `INSERT INTO control.tenants (id, schema_name, display_name, vault, allow_consumer_accounts, idp) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, vault = EXCLUDED.vault,
                                    allow_consumer_accounts = EXCLUDED.allow_consumer_accounts,
                                    idp = EXCLUDED.idp, removed_at = NULL, updated_at = now()`,
    [
      input.id,
      schema,
      input.name ?? null,
      JSON.stringify(input.vault),
      input.allowConsumerAccounts ?? false,
      input.idp ? JSON.stringify(input.idp) : null,
    ],
  );
  await createTenantSchemaInTx(client, schema, deps);
  await client.query('DELETE FROM control.tenant_domains WHERE tenant_id = $1 AND domain <> ALL($2)', [
    input.id,
    input.domains,
  ]);
  await client.query(
    `INSERT INTO control.tenant_domains (domain, tenant_id, include_subdomains)
     SELECT d, $2, $3 FROM unnest($1::text[]) AS d
     ON CONFLICT (domain) DO UPDATE SET include_subdomains = EXCLUDED.include_subdomains`,
    [input.domains, input.id, input.includeSubdomains],
  );
  return { id: input.id, schema, created: !row };
}

/**
 * The private tenant of one public-domain user (PUBLIC_EMAIL_DOMAINS_POLICY=personal), created on
 * first sign-in. Its id is derived from a hash of the address, its schema name is random as always.
 *
 * @example
 * const t = await provisionPersonalTenant(pool, 'ann@gmail.com', deps);
 */
export async function provisionPersonalTenant(pool: Pool, email: string, deps: ProvisionDeps): Promise<Provisioned> {
  // ASCII check before lower-casing (email-domain.ts): '\u212A' must not fold into another address.
  const normalized = normalizeEmail(email).email;
  const id = `p-${createHash('sha256').update(normalized).digest('hex').slice(0, 24)}`;
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NS, `tenant:${id}`]);
    const { rows } = await client.query<{ schema_name: string; removed: boolean }>(
      'SELECT schema_name, removed_at IS NOT NULL AS removed FROM control.tenants WHERE personal_email = $1',
      [normalized],
    );
    if (rows[0]?.removed)
      throw new AppError('ERR_TENANT_UNAVAILABLE', 'Your personal tenant was removed by an administrator');
    if (rows[0]) return { id, schema: parseSchemaName(rows[0].schema_name), created: false };
    const schema = generateSchemaName();
    await client.query('INSERT INTO control.tenants (id, schema_name, personal_email) VALUES ($1, $2, $3)', [
      id,
      schema,
      normalized,
    ]);
    await createTenantSchemaInTx(client, schema, deps);
    return { id, schema, created: true };
  });
}

async function createTenantSchemaInTx(client: PoolClient, schema: SchemaName, deps: ProvisionDeps): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
  await migrateTenantInTx(client, schema, deps.migrations, { roles: deps.roles, servingRole: deps.servingRole });
}
