/**
 * Verified user → tenant.
 *
 * - API-key and GitHub Actions users carry `tenantId` and are mapped by id. An API key's act-as user
 *   (its email) must resolve to that tenant by the sign-in rule below, checked on every request: a
 *   key cannot act as someone outside its organisation (nor at a sub-domain another tenant owns),
 *   even if the tenant's domains changed after it was created.
 * - Everyone else needs an email with `email_verified: true`; its domain (strictly parsed, ASCII
 *   checked before lower-casing) must equal a tenant domain exactly, or be a sub-domain of one whose
 *   tenant opted in with `includeSubdomains`. The most specific match wins. `a.com` never matches
 *   `a.com.evil.io` or `evil-a.com`: matching is on whole labels, never on string prefixes/suffixes,
 *   and never on a public suffix (`co.uk`), whatever the database holds.
 * - Consumer accounts prove an address, not membership of the organisation: a Google account must
 *   carry a Workspace `hd` that maps to the same tenant, and GitHub accounts are refused, unless the
 *   tenant opted in with `allowConsumerAccounts`.
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
import { asciiLower, domainProblem, normalizeEmail } from './email-domain.js';
import { provisionPersonalTenant } from './provision-tenant.js';
import { domainOwnerQuery } from './domain-owner.js';
import { isPublicDomain } from './public-domains.js';
import { TenantIdpSchema, TenantVaultSchema, type Tenant, type TenantIdp } from './tenant.js';

export interface TenantResolverDeps {
  pool: Pool;
  publicDomains: ReadonlySet<string>;
  publicDomainsPolicy: 'refuse' | 'personal';
  /** Tenant whose Vault settings personal tenants use (policy `personal`). */
  personalTemplate?: string;
  /** Needed to provision personal tenants. */
  migrations?: MigrationFile[];
  roles?: boolean;
  /** MIGRATION_DATABASE_URL: personal tenants are created by the owner role, and granted to this one. */
  adminPool?: Pool;
  servingRole?: string;
  cacheTtlMs: number;
  /** Most lookups kept (TENANT_CACHE_MAX); the least recently used are dropped first. Default 10,000. */
  cacheMax?: number;
  /** Clock of the cache's TTL (tests; must not start at 0). */
  now?: () => number;
}

export interface TenantResolver {
  (user: UserContext): Promise<Tenant>;
  /** Forget cached lookups (after this process changed tenants). */
  invalidate(): void;
  /** The live tenant with this id (no side effects). */
  findById(id: string): Promise<Tenant | undefined>;
  /**
   * The tenant that owns this email's domain by the same rules as sign-in (exact domain, or a
   * sub-domain where the tenant opted in), without provisioning anything: home-realm discovery.
   * Throws ERR_TENANT_EMAIL_INVALID for an address without a usable domain.
   */
  findByEmail(email: string): Promise<Tenant | undefined>;
}

interface TenantRow {
  id: string;
  display_name: string | null;
  schema_name: string;
  vault: unknown;
  personal_email: string | null;
  allow_consumer_accounts: boolean;
  idp: unknown;
}

const TENANT_COLUMNS =
  't.id, t.display_name, t.schema_name, t.vault, t.personal_email, t.allow_consumer_accounts, t.idp';

/**
 * @example
 * const resolveTenant = createTenantResolver({ pool, publicDomains, publicDomainsPolicy: 'refuse', cacheTtlMs: 30000 });
 * const tenant = await resolveTenant(user);
 */
export function createTenantResolver(deps: TenantResolverDeps): TenantResolver {
  // Rows and domain lists by key, for TENANT_CACHE_TTL_MS (bounded: an LRU drops the least recently
  // used beyond TENANT_CACHE_MAX).
  const cache = new LRUCache<string, Promise<unknown>>({
    max: deps.cacheMax ?? 10_000,
    ttl: Math.max(0, deps.cacheTtlMs),
    // A test clock: expiry follows it, and a moved clock is seen at once (no cached reading).
    ...(deps.now ? { perf: { now: deps.now }, ttlResolution: 0 } : {}),
  });
  // The validated Tenant of each cached row: parsed once per row, not on every request.
  const parsed = new WeakMap<TenantRow, Promise<Tenant>>();

  // Caches the promise, so concurrent first requests for one domain share a single query.
  function cached<T = TenantRow | undefined>(key: string, load: () => Promise<T>): Promise<T> {
    if (deps.cacheTtlMs <= 0) return load();
    const hit = cache.get(key);
    if (hit) return hit as Promise<T>;
    const value = load();
    cache.set(key, value);
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
    const { rows } = await deps.pool.query<TenantRow>(domainOwnerQuery(TENANT_COLUMNS, domain));
    return rows[0];
  }

  /**
   * An API key's act-as user must sign in to the key's tenant: the email's domain resolves to it by
   * the sign-in rule (so a sub-domain another tenant owns, or a public suffix, never counts).
   */
  async function checkActAs(row: TenantRow, actAs: string): Promise<void> {
    const { domain } = normalizeEmail(actAs);
    const owner = await cached(`domain:${domain}`, () => byDomain(domain));
    if (owner?.id !== row.id)
      throw new AppError(
        'ERR_TENANT_ACT_AS_DOMAIN',
        `This API key acts as ${actAs}, whose domain "${domain}" is not a domain of tenant "${row.id}"; create a key that acts as a user of the tenant`,
        { domain },
      );
  }

  /**
   * Consumer accounts: an address at the domain is all Google (without `hd`) or GitHub prove, not
   * that the organisation manages the account (a former employee's personal Google account made with
   * the work address stays verified forever).
   */
  async function checkAccountProof(row: TenantRow, user: UserContext): Promise<void> {
    if (row.personal_email || row.allow_consumer_accounts) return;
    if (user.provider === 'github') {
      throw new AppError(
        'ERR_TENANT_CONSUMER_ACCOUNT',
        `GitHub accounts prove no organisation domain, and tenant "${row.id}" does not accept consumer accounts (allowConsumerAccounts); sign in with your organisation's identity provider`,
      );
    }
    if (user.provider !== 'google') return;
    const hd = user.hostedDomain;
    if (!hd) {
      throw new AppError(
        'ERR_TENANT_CONSUMER_ACCOUNT',
        `This Google account is a consumer account (no Workspace domain, hd), and tenant "${row.id}" accepts only its Google Workspace accounts (allowConsumerAccounts is off)`,
      );
    }
    const hdDomain = asciiLower(hd);
    const hdRow = domainProblem(hdDomain) ? undefined : await cached(`domain:${hdDomain}`, () => byDomain(hdDomain));
    if (hdRow?.id !== row.id) {
      throw new AppError(
        'ERR_TENANT_CONSUMER_ACCOUNT',
        `The Google Workspace domain (hd) "${hd.slice(0, 120)}" of this account is not a domain of tenant "${row.id}"`,
        { domain: hdDomain },
      );
    }
  }

  const personalRow = async (email: string) =>
    (
      await deps.pool.query<TenantRow>(
        `SELECT ${TENANT_COLUMNS} FROM control.tenants t WHERE t.personal_email = $1 AND t.removed_at IS NULL`,
        [email],
      )
    ).rows[0];

  async function byPersonalEmail(email: string): Promise<TenantRow | undefined> {
    const found = await personalRow(email);
    if (found) return found;
    if (!deps.migrations) throw new Error('personal tenants need the tenant migrations');
    const made = await provisionPersonalTenant(deps.adminPool ?? deps.pool, email, {
      migrations: deps.migrations,
      roles: deps.roles ?? true,
      publicDomains: deps.publicDomains,
      servingRole: deps.servingRole,
    });
    // Another replica created it meanwhile: its row as stored (an administrator may have changed it).
    if (!made.created) return personalRow(email);
    // Created here: the row as provisioning just wrote it, without reading it back (its id, schema and
    // address; no name, no identity provider; its Vault settings are the template's).
    return {
      id: made.id,
      display_name: null,
      schema_name: made.schema,
      vault: {},
      personal_email: email,
      allow_consumer_accounts: false,
      idp: null,
    };
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
    let idp: TenantIdp | undefined;
    if (row.idp != null && !row.personal_email) {
      const p = TenantIdpSchema.safeParse(row.idp);
      if (!p.success) {
        const what = p.error.issues.map((i) => `idp.${i.path.join('.')}: ${i.message}`).join('; ');
        throw new AppError('ERR_TENANT_MISCONFIGURED', `Tenant "${row.id}" has an invalid identity provider (${what})`);
      }
      idp = p.data;
    }
    return {
      id: row.id,
      name: row.display_name ?? undefined,
      schema: parseSchemaName(row.schema_name),
      vault: parsed.data,
      ...(idp ? { idp } : {}),
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
      if (user.email !== undefined) await checkActAs(row, user.email);
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
    const { email, domain } = normalizeEmail(user.email);
    const row = await cached(`domain:${domain}`, () => byDomain(domain));
    if (row) {
      await checkAccountProof(row, user);
      return toTenant(row);
    }
    if (isPublicDomain(domain, deps.publicDomains)) {
      if (deps.publicDomainsPolicy !== 'personal') {
        throw new AppError(
          'ERR_TENANT_PUBLIC_DOMAIN',
          `Accounts at the public email domain "${domain}" cannot use this server; sign in with your organisation's account`,
        );
      }
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

  async function findById(id: string): Promise<Tenant | undefined> {
    const row = await cached(`id:${id}`, () => byId(id));
    return row ? toTenant(row) : undefined;
  }

  async function findByEmail(email: string): Promise<Tenant | undefined> {
    const { domain } = normalizeEmail(email);
    const row = await cached(`domain:${domain}`, () => byDomain(domain));
    return row ? toTenant(row) : undefined;
  }

  return Object.assign(resolve, { invalidate: () => cache.clear(), findById, findByEmail });
}
