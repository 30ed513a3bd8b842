/**
 * The per-tenant hash chain: `hash = SHA-256(prev_hash || canonical JSON of the row's fields)`, where
 * the first row of a tenant has no `prev_hash` (empty prefix). Canonical JSON sorts object keys at
 * every level, so jsonb's own key order does not matter.
 *
 * @module
 */
import { createHash } from 'node:crypto';
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

/**
 * The chain hash of one row.
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
