/**
 * TENANTS_FILE: read, validate (every problem reported at once, as a ConfigError) and upsert at boot,
 * all tenants in one transaction, so a bad file changes nothing. Tenants that are in the database but
 * not in the file (added with the admin CLI) are left alone: the file adds and updates, never removes.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { Pool } from '../db/pool.js';
import { ConfigError } from '../errors/index.js';
import { ProvisionError, provisionTenants, type ProvisionDeps, type Provisioned } from './provision-tenant.js';
import { TenantsFileSchema, type TenantInput } from './tenant.js';

/**
 * Read and validate the file.
 *
 * @example
 * const tenants = await readTenantsFile('/etc/vault-mcp/tenants.json');
 */
export async function readTenantsFile(file: string): Promise<TenantInput[]> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError([
      `TENANTS_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError([`TENANTS_FILE: ${file} is not valid JSON (${(e as Error).message})`]);
  }
  const parsed = TenantsFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `TENANTS_FILE ${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
    );
  }
  return parsed.data.tenants;
}

/**
 * Read, validate and upsert the file's tenants.
 *
 * @example
 * await loadTenantsFile(pool, config.tenantsFile, { migrations: m.tenant, roles: true, publicDomains });
 */
export async function loadTenantsFile(pool: Pool, file: string, deps: ProvisionDeps): Promise<Provisioned[]> {
  const tenants = await readTenantsFile(file);
  try {
    return await provisionTenants(pool, tenants, deps);
  } catch (e) {
    if (e instanceof ProvisionError) throw new ConfigError(e.problems.map((p) => `TENANTS_FILE: ${p}`));
    throw e;
  }
}
