/**
 * Keys of the audit chain. Each tenant's chain is keyed with its own HMAC-SHA256 key, derived by
 * HKDF-SHA256 from SECRET_KEY (fixed salt, purpose- and tenant-bound info), so SECRET_KEY itself never
 * touches data and a key leaked for one tenant says nothing about another. Whoever can edit the rows
 * (the database owner) cannot recompute a valid chain without SECRET_KEY.
 *
 * Rotation: every keyed row stores a key id (a fingerprint of the tenant key, not of SECRET_KEY);
 * new rows use the current SECRET_KEY, and verification finds older rows' keys among
 * SECRET_KEY_PREVIOUS. The chain itself continues across a rotation (each row links to the previous
 * row's hash, whatever key made it).
 *
 * @module
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { LRUCache } from 'lru-cache';

const SALT = 'vault-mcp/audit-chain/v2';

export interface TenantAuditKey {
  /** HMAC key of the tenant's rows. */
  key: Buffer;
  /** HMAC key of exported chain heads (a separate key: a head can never pass for a row). */
  headKey: Buffer;
  /** Stored with each keyed row: 16 hex chars. */
  keyId: string;
}

export interface AuditKeys {
  /** The key new rows of `tenantId` are written with. */
  current(tenantId: string): TenantAuditKey;
  /** The key of `tenantId` whose id is `keyId`, among the current and previous secrets. */
  byId(tenantId: string, keyId: string): TenantAuditKey | undefined;
}

function derive(secret: string, tenantId: string): TenantAuditKey {
  const key = Buffer.from(hkdfSync('sha256', secret, SALT, `audit-rows|tenant:${tenantId}`, 32));
  const headKey = Buffer.from(hkdfSync('sha256', secret, SALT, `audit-heads|tenant:${tenantId}`, 32));
  const keyId = createHmac('sha256', key).update('vault-mcp audit key id').digest('hex').slice(0, 16);
  return { key, headKey, keyId };
}

/**
 * @example
 * const keys = createAuditKeys(config.secretKey, config.auditTrail.previousSecretKeys);
 * const { key, keyId } = keys.current('acme');
 */
export function createAuditKeys(secretKey: string, previous: readonly string[] = []): AuditKeys {
  const secrets = [secretKey, ...previous];
  const cache = new LRUCache<string, TenantAuditKey[]>({ max: 10_000 });
  const all = (tenantId: string) => {
    let keys = cache.get(tenantId);
    if (!keys) {
      keys = secrets.map((s) => derive(s, tenantId));
      cache.set(tenantId, keys);
    }
    return keys;
  };
  return {
    current: (tenantId) => all(tenantId)[0]!,
    byId: (tenantId, keyId) => all(tenantId).find((k) => k.keyId === keyId),
  };
}
