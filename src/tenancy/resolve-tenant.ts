/**
 * Verified user → tenant.
 *
 * - API-key users carry `tenantId` and are mapped by id (no email involved).
 * - Everyone else needs an email with `email_verified: true`; its domain (strictly parsed, lower-cased)
 *   must equal a tenant domain exactly, or be a sub-domain of one whose tenant opted in with
 *   `includeSubdomains`. The most specific match wins. `a.com` never matches `a.com.evil.io` or
 *   `evil-a.com`: matching is on whole labels, never on string prefixes/suffixes.
 * - Unknown domain → 403 naming the domain. Public domains (gmail.com …) → refused, or one private
 *   tenant per address with PUBLIC_EMAIL_DOMAINS_POLICY=personal.
 *
 * Lookups are cached in memory for TENANT_CACHE_TTL_MS (changes made by this process clear the cache
 * at once; changes from the admin CLI are seen within the TTL).
 *
 * @module
 */
import { LRUCache } from 'lru-cache';
import type { UserContext } from '../auth/types.js';
import type { MigrationFile } from '../db/migrate.js';
import type { Pool } from '../db/pool.js';
import { parseSchemaName } from '../db/schema-name.js';
import { AppError, AuthError } from '../errors/index.js';
import { emailDomain } from './email-domain.js';
import { provisionPersonalTenant } from './provision-tenant.js';
import { domainSuffixes, isPublicDomain } from './public-domains.js';
import { TenantVaultSchema, type Tenant } from './tenant.js';

export interface TenantResolverDeps {
  pool: Pool;
  publicDomains: ReadonlySet<string>;
  publicDomainsPolicy: 'refuse' | 'personal';
  /** Tenant whose Vault settings personal tenants use (policy `personal`). */
  personalTemplate?: string;
  /** Needed to provision personal tenants. */
  migrations?: MigrationFile[];
  roles?: boolean;
  cacheTtlMs: number;
  /** Most lookups kept (TENANT_CACHE_MAX); the least recently used are dropped first. Default 10,000. */
  cacheMax?: number;
  now?: () => number;
}

export interface TenantResolver {
  (user: UserContext): Promise<Tenant>;
  /** Forget cached lookups (after this process changed tenants). */
  invalidate(): void;
}

interface TenantRow {
  id: string;
  display_name: string | null;
  schema_name: string;
  vault: unknown;
  personal_email: string | null;
}

const TENANT_COLUMNS = 't.id, t.display_name, t.schema_name, t.vault, t.personal_email';

/**
 * @example
 * const resolveTenant = createTenantResolver({ pool, publicDomains, publicDomainsPolicy: 'refuse', cacheTtlMs: 30000 });
 * const tenant = await resolveTenant(user);
 */
export function createTenantResolver(deps: TenantResolverDeps): TenantResolver {
  const now = deps.now ?? Date.now;
  const cache = new LRUCache<string, { value: Promise<TenantRow | undefined>; expires: number }>({
    max: deps.cacheMax ?? 10_000,
  });
  // The validated Tenant of each cached row: parsed once per row, not on every request.
  const parsed = new WeakMap<TenantRow, Promise<Tenant>>();

  // Caches the promise, so concurrent first requests for one domain share a single query.
  function cached(key: string, load: () => Promise<TenantRow | undefined>): Promise<TenantRow | undefined> {
    if (deps.cacheTtlMs <= 0) return load();
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.value;
    const value = load();
    cache.set(key, { value, expires: now() + deps.cacheTtlMs });
    value.catch(() => cache.delete(key));
    return value;
  }

  async function byId(id: string): Promise<TenantRow | undefined> {
    const { rows } = await deps.pool.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM control.tenants t WHERE t.id = $1 AND t.removed_at IS NULL`,
      [id],
    );
    return rows[0];
  }

  async function byDomain(domain: string): Promise<TenantRow | undefined> {
    const { rows } = await deps.pool.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM control.tenant_domains d JOIN control.tenants t ON t.id = d.tenant_id
        WHERE d.domain = ANY($1) AND (d.domain = $2 OR d.include_subdomains) AND t.removed_at IS NULL
        ORDER BY length(d.domain) DESC LIMIT 1`,
      [domainSuffixes(domain), domain],
    );
    return rows[0];
  }

  async function byPersonalEmail(email: string): Promise<TenantRow | undefined> {
    const { rows } = await deps.pool.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM control.tenants t WHERE t.personal_email = $1 AND t.removed_at IS NULL`,
      [email],
    );
    if (rows[0]) return rows[0];
    if (!deps.migrations) throw new Error('personal tenants need the tenant migrations');
    await provisionPersonalTenant(deps.pool, email, {
      migrations: deps.migrations,
      roles: deps.roles ?? true,
      publicDomains: deps.publicDomains,
    });
    const again = await deps.pool.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM control.tenants t WHERE t.personal_email = $1 AND t.removed_at IS NULL`,
      [email],
    );
    return again.rows[0];
  }

  function toTenant(row: TenantRow): Promise<Tenant> {
    let t = parsed.get(row);
    if (!t) {
      t = parseTenant(row);
      parsed.set(row, t);
      t.catch(() => parsed.delete(row));
    }
    return t;
  }

  async function parseTenant(row: TenantRow): Promise<Tenant> {
    let vault = row.vault;
    if (row.personal_email) {
      const template = deps.personalTemplate
        ? await cached(`id:${deps.personalTemplate}`, () => byId(deps.personalTemplate!))
        : undefined;
      if (!template)
        throw new AppError(
          'ERR_TENANT_MISCONFIGURED',
          `Personal tenants use the Vault settings of tenant "${deps.personalTemplate ?? ''}", which does not exist`,
        );
      vault = template.vault;
    }
    const parsed = TenantVaultSchema.safeParse(vault);
    if (!parsed.success) {
      const what = parsed.error.issues.map((i) => `vault.${i.path.join('.')}: ${i.message}`).join('; ');
      throw new AppError('ERR_TENANT_MISCONFIGURED', `Tenant "${row.id}" has invalid Vault settings (${what})`);
    }
    return {
      id: row.id,
      name: row.display_name ?? undefined,
      schema: parseSchemaName(row.schema_name),
      vault: parsed.data,
    };
  }

  async function resolve(user: UserContext): Promise<Tenant> {
    if (user.tenantId !== undefined) {
      const row = await cached(`id:${user.tenantId}`, () => byId(user.tenantId!));
      if (!row)
        throw new AppError(
          'ERR_TENANT_UNAVAILABLE',
          `The tenant "${user.tenantId}" of this credential does not exist or was removed`,
        );
      return toTenant(row);
    }
    if (!user.email) {
      throw new AppError(
        'ERR_TENANT_EMAIL_INVALID',
        'The token carries no email claim; users are mapped to tenants by their verified email domain',
      );
    }
    if (!user.emailVerified) {
      throw new AuthError(
        'ERR_AUTH_EMAIL_UNVERIFIED',
        'The email address in the token is not verified (email_verified is not true)',
      );
    }
    const domain = emailDomain(user.email);
    const row = await cached(`domain:${domain}`, () => byDomain(domain));
    if (row) return toTenant(row);
    if (isPublicDomain(domain, deps.publicDomains)) {
      if (deps.publicDomainsPolicy !== 'personal') {
        throw new AppError(
          'ERR_TENANT_PUBLIC_DOMAIN',
          `Accounts at the public email domain "${domain}" cannot use this server; sign in with your organisation's account`,
        );
      }
      const email = user.email.toLowerCase();
      const personal = await cached(`personal:${email}`, () => byPersonalEmail(email));
      if (!personal)
        throw new AppError('ERR_TENANT_UNAVAILABLE', 'Your personal tenant was removed by an administrator');
      return toTenant(personal);
    }
    throw new AppError(
      'ERR_TENANT_UNKNOWN_DOMAIN',
      `No tenant is configured for the email domain "${domain}"; ask your administrator to add it`,
      { domain },
    );
  }

  return Object.assign(resolve, { invalidate: () => cache.clear() });
}
