/**
 * Tenant schema names. They are generated (`t_` + 32 hex chars), never derived from user input, and
 * {@link parseSchemaName} is the only way to obtain a {@link SchemaName}: the regex is the real guard
 * (quoting alone would not stop Postgres silently truncating long names).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

declare const brand: unique symbol;
/** A validated tenant schema name; also used as the tenant's database role name. */
export type SchemaName = string & { readonly [brand]: 'SchemaName' };

const SCHEMA_RE = /^t_[0-9a-f]{32}$/;

/**
 * Validate a schema name read from the control tables.
 *
 * @example
 * const s = parseSchemaName('t_0123456789abcdef0123456789abcdef');
 */
export function parseSchemaName(value: unknown): SchemaName {
  if (typeof value !== 'string' || !SCHEMA_RE.test(value)) {
    throw new TypeError(`not a tenant schema name: ${JSON.stringify(String(value).slice(0, 80))}`);
  }
  return value as SchemaName;
}

/**
 * A fresh, random schema name for a new tenant.
 *
 * @example
 * const s = generateSchemaName(); // 't_3f2a…'
 */
export function generateSchemaName(): SchemaName {
  return parseSchemaName(`t_${randomUUID().replaceAll('-', '')}`);
}

/**
 * Quote an identifier for SQL text. Only for names that already passed a strict check.
 *
 * @example
 * `CREATE SCHEMA ${ident(schema)}`
 */
export function ident(name: SchemaName | 'control'): string {
  return pg.escapeIdentifier(name);
}
