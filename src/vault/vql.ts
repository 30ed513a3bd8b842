/**
 * Safe VQL building and checking. Structured filters become VQL only through {@link buildVql}:
 * names must match Vault's name pattern (and, where given, a whitelist), operators come from a fixed
 * list and every value is a literal escaped the way VQL expects (backslash before `'` and `\`).
 * {@link assertReadOnlyVql} accepts exactly one SELECT statement for the raw `vql_query` tool.
 *
 * @module
 */
import { AppError } from '../errors/index.js';

/** Vault API names: lower-case, digits, underscores, with a namespace suffix (`__v`, `__c`, `__sys`…). */
export const VAULT_NAME_RE = /^[a-z][a-z0-9_]{0,59}(__[a-z]{1,4})?$/;

export const VQL_OPERATORS = ['=', '!=', '<', '>', '<=', '>=', 'LIKE', 'CONTAINS', 'IN'] as const;
export type VqlOperator = (typeof VQL_OPERATORS)[number];

export type VqlValue = string | number | boolean;

export interface VqlFilter {
  field: string;
  op: VqlOperator;
  value: VqlValue | VqlValue[];
}

/** Quote a string literal for VQL. */
export function vqlString(s: string): string {
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function literal(v: VqlValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new AppError('ERR_VQL_REJECTED', 'Numbers in filters must be finite');
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return vqlString(v);
}

function name(n: string, allowed?: readonly string[]): string {
  if (!VAULT_NAME_RE.test(n) || (allowed && !allowed.includes(n))) {
    throw new AppError(
      'ERR_VQL_REJECTED',
      `Unknown or invalid field name ${JSON.stringify(n.slice(0, 64))}${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}`,
    );
  }
  return n;
}

/**
 * Build `SELECT … FROM … [WHERE …] [ORDER BY …] [PAGESIZE n]` from structured input.
 *
 * @example
 * buildVql({ from: 'documents', fields: ['id', 'name__v'], filters: [{ field: 'status__v', op: '=', value: 'Effective' }], pageSize: 50 })
 * // SELECT id, name__v FROM documents WHERE status__v = 'Effective' PAGESIZE 50
 */
export function buildVql(p: {
  from: string;
  fields: readonly string[];
  filters?: readonly VqlFilter[];
  orderBy?: { field: string; desc?: boolean };
  pageSize?: number;
  allowedFields?: readonly string[];
}): string {
  const from = name(p.from);
  if (!p.fields.length) throw new AppError('ERR_VQL_REJECTED', 'Select at least one field');
  const fields = p.fields.map((f) => name(f, p.allowedFields));
  let q = `SELECT ${fields.join(', ')} FROM ${from}`;
  const conds = (p.filters ?? []).map((f) => {
    const field = name(f.field, p.allowedFields);
    if (!VQL_OPERATORS.includes(f.op))
      throw new AppError('ERR_VQL_REJECTED', `Unknown operator ${JSON.stringify(f.op)}`);
    if (f.op === 'IN') {
      const values = Array.isArray(f.value) ? f.value : [f.value];
      if (!values.length) throw new AppError('ERR_VQL_REJECTED', `IN on ${field} needs at least one value`);
      return `${field} IN (${values.map(literal).join(', ')})`;
    }
    if (Array.isArray(f.value)) throw new AppError('ERR_VQL_REJECTED', `Only IN takes a list (field ${field})`);
    return `${field} ${f.op} ${literal(f.value)}`;
  });
  if (conds.length) q += ` WHERE ${conds.join(' AND ')}`;
  if (p.orderBy) q += ` ORDER BY ${name(p.orderBy.field, p.allowedFields)} ${p.orderBy.desc ? 'DESC' : 'ASC'}`;
  if (p.pageSize !== undefined) q += ` PAGESIZE ${Math.max(1, Math.min(1000, Math.trunc(p.pageSize)))}`;
  return q;
}

/**
 * Accept one SELECT statement only (VQL is read-only by design; this stops anything else early and
 * keeps the tool honest). String literals are skipped when looking for `;`.
 *
 * @example
 * assertReadOnlyVql("SELECT id FROM documents WHERE name__v = 'a;b'"); // ok
 */
export function assertReadOnlyVql(q: string): string {
  const text = q.trim();
  if (!text) throw new AppError('ERR_VQL_REJECTED', 'The query is empty');
  if (text.length > 50_000) throw new AppError('ERR_VQL_REJECTED', 'The query is longer than 50,000 characters');
  let outside = '';
  for (let i = 0, inStr = false; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) {
      if (c === '\\') i++;
      else if (c === "'") inStr = false;
      continue;
    }
    if (c === "'") inStr = true;
    else outside += c;
  }
  if (/[;]/.test(outside.replace(/;\s*$/, '')))
    throw new AppError('ERR_VQL_REJECTED', 'Only a single statement is allowed');
  if (!/^SELECT\s/i.test(text)) throw new AppError('ERR_VQL_REJECTED', 'Only SELECT queries are allowed');
  if (/\b(INSERT|UPDATE|DELETE|MERGE|UPSERT|DROP|CREATE|ALTER|TRUNCATE|GRANT)\b/i.test(outside)) {
    throw new AppError('ERR_VQL_REJECTED', 'Only read-only SELECT queries are allowed');
  }
  return text.replace(/;\s*$/, '');
}
