/**
 * Service API keys, bound to one tenant: `vmcp_<id>_<secret>`. Only the SHA-256 of the secret is
 * stored (the secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force);
 * the id part lets us find the row without scanning, and the hash is compared in constant time.
 * A key may act as a named user (`act_as`), whose email domain must resolve to the key's tenant by
 * the sign-in rule (tenancy/domain-owner.ts; checked here and again on every request by the tenant
 * resolver): the audit then records the key as actor
 * and the user as subject.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors/index.js';
import { domainOwnerQuery } from '../tenancy/domain-owner.js';

export const API_KEY_PREFIX = 'vmcp_';
export const API_KEY_RE = /^vmcp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** RFC 6749 §3.3 scope-token. */
const ScopeSchema = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'not a valid scope token');

export const ApiKeyInputSchema = z
  .object({
    tenantId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes'),
    name: z.string().trim().min(1).max(200),
    scopes: z.array(ScopeSchema).min(1, 'at least one scope (e.g. vault:read)'),
    // ASCII is checked BEFORE lower-casing: '\u212A'.toLowerCase() is 'k' (see tenancy/email-domain.ts).
    actAs: z
      .string()
      .regex(/^[\x21-\x7e]+$/, 'must be a plain ASCII email address')
      .pipe(z.email())
      .transform((e) => e.toLowerCase())
      .optional(),
    expiresDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
export type ApiKeyInput = z.input<typeof ApiKeyInputSchema>;

export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  name: string;
  scopes: string[];
  actAs: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/**
 * SHA-256 of the secret part (what `control.api_keys.secret_sha256` stores).
 *
 * @example
 * timingSafeEqual(hashSecret(secret), row.secret_sha256);
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Create a key. The returned `key` is shown once and never stored.
 *
 * @example
 * const { key } = await createApiKey(pool, { tenantId: 'acme', name: 'etl', scopes: ['vault:read'] });
 */
export async function createApiKey(pool: Pool, input: ApiKeyInput): Promise<{ key: string; info: ApiKeyInfo }> {
  const parsed = ApiKeyInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new AppError(
      'ERR_BAD_REQUEST',
      `Invalid API key: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`,
    );
  }
  const p = parsed.data;
  const tenant = await pool.query('SELECT 1 FROM control.tenants WHERE id = $1', [p.tenantId]);
  if (!tenant.rowCount)
    throw new AppError(
      'ERR_TENANT_NOT_FOUND',
      `No tenant '${p.tenantId}' exists; create it first (npm run tenants -- add)`,
    );
  if (p.actAs) {
    // The key may act only as a user who signs in to its own tenant: the sign-in rule, not a copy.
    const domain = p.actAs.slice(p.actAs.lastIndexOf('@') + 1);
    const owner = await pool.query<{ id: string }>(domainOwnerQuery('t.id', domain));
    if (owner.rows[0]?.id !== p.tenantId) {
      const d = await pool.query<{ domain: string }>(
        'SELECT domain FROM control.tenant_domains WHERE tenant_id = $1 ORDER BY domain',
        [p.tenantId],
      );
      throw new AppError(
        'ERR_BAD_REQUEST',
        `Invalid API key: --act-as ${p.actAs} is not at a domain of tenant '${p.tenantId}' (${d.rows.map((r) => r.domain).join(', ') || 'it has no domains'}); a key may act only as a user of its own tenant`,
      );
    }
  }
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const r = await pool.query<Record<string, unknown>>(
    `INSERT INTO control.api_keys (id, tenant_id, name, secret_sha256, scopes, act_as, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(days => $7::int) END)
     RETURNING ${COLUMNS}`,
    [id, p.tenantId, p.name, hashSecret(secret), p.scopes, p.actAs ?? null, p.expiresDays ?? null],
  );
  return { key: `${API_KEY_PREFIX}${id}_${secret}`, info: toInfo(r.rows[0]!) };
}

/**
 * List a tenant's keys (never the secrets or their hashes).
 *
 * @example
 * for (const k of await listApiKeys(pool, 'acme')) console.log(k.id, k.name);
 */
export async function listApiKeys(pool: Pool, tenantId: string): Promise<ApiKeyInfo[]> {
  const r = await pool.query<Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM control.api_keys WHERE tenant_id = $1 ORDER BY created_at, id`,
    [tenantId],
  );
  return r.rows.map(toInfo);
}

/**
 * Revoke a key (kept for the audit trail). Every replica drops its cached copy when the commit's
 * notification arrives (milliseconds; see api-key-verifier.ts), or reads Postgres while it cannot listen.
 *
 * @example
 * await revokeApiKey(pool, '0123456789abcdef');
 */
export async function revokeApiKey(pool: Pool, id: string): Promise<ApiKeyInfo> {
  const r = await pool.query<Record<string, unknown>>(
    `UPDATE control.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id],
  );
  if (!r.rowCount) throw new AppError('ERR_NOT_FOUND', `No API key with id '${id.slice(0, 64)}'`);
  return toInfo(r.rows[0]!);
}

const COLUMNS = 'id, tenant_id, name, scopes, act_as, created_at, expires_at, revoked_at, last_used_at';

function toInfo(row: Record<string, unknown>): ApiKeyInfo {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    name: row.name as string,
    scopes: row.scopes as string[],
    actAs: (row.act_as as string | null) ?? null,
    createdAt: row.created_at as Date,
    expiresAt: (row.expires_at as Date | null) ?? null,
    revokedAt: (row.revoked_at as Date | null) ?? null,
    lastUsedAt: (row.last_used_at as Date | null) ?? null,
  };
}
