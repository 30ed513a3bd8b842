/**
 * The per-tenant chain. Version 2 (keyed, written since migration tenant/0120):
 * `hash = HMAC-SHA256(tenant key, prev_hash || canonical JSON of the row's fields)`; version 1
 * (legacy rows written before it, unkeyed): `hash = SHA-256(prev_hash || canonical JSON)`. The first
 * row of a tenant has no `prev_hash` (empty prefix). Canonical JSON sorts object keys at every level,
 * so jsonb's own key order does not matter.
 *
 * @module
 */
import { createHash, createHmac } from 'node:crypto';
import type { AuditRow } from './entry.js';

/** JSON with object keys sorted recursively. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Hash versions: 1 unkeyed SHA-256 (legacy), 2 HMAC-SHA256 under the tenant key. */
export const HASH_V1 = 1;
export const HASH_V2 = 2;

/**
 * The keyed (version 2) chain hash of one row.
 *
 * @example
 * const h = chainMac(key, prevHash, row); // 32-byte Buffer
 */
export function chainMac(key: Buffer, prev: Buffer | null, row: AuditRow): Buffer {
  const h = createHmac('sha256', key);
  if (prev) h.update(prev);
  h.update(canonicalJson(row));
  return h.digest();
}

/**
 * The legacy (version 1, unkeyed) chain hash of one row: verification of old rows only.
 *
 * @example
 * const h = chainHash(prevHash, row); // 32-byte Buffer
 */
export function chainHash(prev: Buffer | null, row: AuditRow): Buffer {
  const h = createHash('sha256');
  if (prev) h.update(prev);
  h.update(canonicalJson(row));
  return h.digest();
}
