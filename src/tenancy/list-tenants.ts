/**
 * The tenants as an administrator sees them (admin CLI `list`).
 *
 * @module
 */
import type { Pool } from '../db/pool.js';

export interface TenantSummary {
  id: string;
  name: string | null;
  schema: string;
  domains: { domain: string; includeSubdomains: boolean }[];
  personal: boolean;
  /** Consumer accounts (Google without `hd`, GitHub) at its domains are mapped to it. */
  allowConsumerAccounts: boolean;
  removedAt: Date | null;
  createdAt: Date;
  /** The tenant's own sign-in IdP (issuer, client id, secret env var name, display name), if any. */
  idp: Record<string, string> | null;
}

/**
 * @example
 * for (const t of await listTenants(pool)) console.log(t.id, t.domains);
 */
export async function listTenants(pool: Pool, opts: { includeRemoved?: boolean } = {}): Promise<TenantSummary[]> {
  const { rows } = await pool.query<{
    id: string;
    display_name: string | null;
    schema_name: string;
    personal: boolean;
    allow_consumer_accounts: boolean;
    removed_at: Date | null;
    created_at: Date;
    idp: Record<string, string> | null;
    domains: { domain: string; includeSubdomains: boolean }[];
  }>(
    `SELECT t.id, t.display_name, t.schema_name, t.personal_email IS NOT NULL AS personal, t.allow_consumer_accounts, t.removed_at, t.created_at, t.idp,
            coalesce(json_agg(json_build_object('domain', d.domain, 'includeSubdomains', d.include_subdomains) ORDER BY d.domain)
                     FILTER (WHERE d.domain IS NOT NULL), '[]') AS domains
       FROM control.tenants t LEFT JOIN control.tenant_domains d ON d.tenant_id = t.id
      WHERE $1 OR t.removed_at IS NULL
      GROUP BY t.id ORDER BY t.id`,
    [opts.includeRemoved ?? false],
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.display_name,
    schema: r.schema_name,
    domains: r.domains,
    personal: r.personal,
    allowConsumerAccounts: r.allow_consumer_accounts,
    removedAt: r.removed_at,
    createdAt: r.created_at,
    idp: r.idp,
  }));
}
