/**
 * The one rule that gives an email domain its tenant, for sign-in, home-realm discovery and API-key
 * act-as users alike: the tenant domain equal to it, else the longest tenant domain it is a
 * sub-domain of whose tenant opted in (`includeSubdomains`); never a public suffix (`co.uk`), whatever
 * the database holds. Matching is on whole labels (`a.com` never matches `evil-a.com`).
 *
 * @module
 */
import { domainSuffixes, isPublicSuffix } from './public-domains.js';

/**
 * The query for the owner of `domain`: `columns` of `control.tenant_domains d` joined to
 * `control.tenants t` (live tenants only), at most one row.
 *
 * @example
 * const { rows } = await pool.query<{ id: string }>(domainOwnerQuery('t.id', 'eu.acme.com'));
 */
export function domainOwnerQuery(columns: string, domain: string): { text: string; values: unknown[] } {
  return {
    text: `SELECT ${columns} FROM control.tenant_domains d JOIN control.tenants t ON t.id = d.tenant_id
        WHERE d.domain = ANY($1) AND (d.domain = $2 OR d.include_subdomains) AND t.removed_at IS NULL
        ORDER BY length(d.domain) DESC LIMIT 1`,
    values: [domainSuffixes(domain).filter((d) => !isPublicSuffix(d)), domain],
  };
}
