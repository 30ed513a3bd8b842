/**
 * The VQL subset the simulator understands:
 * `SELECT f[, f…] FROM target [FIND ('phrase' [SCOPE ALL|CONTENT|PROPERTIES])] [WHERE cond]
 * [ORDER BY f|RANK [ASC|DESC]] [MAXROWS n] [PAGESIZE n] [PAGEOFFSET n]` where `cond` is comparisons (`= != < > <= >=`, `LIKE`, `CONTAINS`, `IN (…)`) joined by AND/OR with
 * parentheses. String literals are single-quoted with backslash escapes, as in VQL. Anything else is
 * answered like Vault does: FAILURE `INCORRECT_QUERY_SYNTAX_ERROR`.
 *
 * @module
 */

export class VqlSyntaxError extends Error {}

type Tok = { t: 'id' | 'str' | 'num' | 'op' | 'punct'; v: string };

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= q.length) throw new VqlSyntaxError('unterminated string literal');
        const d = q[i]!;
        if (d === '\\') {
          s += q[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (d === "'") {
          i++;
          break;
        }
        s += d;
        i++;
      }
      out.push({ t: 'str', v: s });
      continue;
    }
    const op = /^(<=|>=|!=|<>|=|<|>)/.exec(q.slice(i));
    if (op) {
      out.push({ t: 'op', v: op[1] === '<>' ? '!=' : op[1]! });
      i += op[1]!.length;
      continue;
    }
    if ('(),'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(q.slice(i));
    if (num) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][\w.]*(\(\))?/.exec(q.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new VqlSyntaxError(`unexpected character '${c}'`);
  }
  return out;
}

export type Cond =
  | { kind: 'cmp'; field: string; op: string; value: unknown }
  | { kind: 'in'; field: string; values: unknown[] }
  | { kind: 'and' | 'or'; left: Cond; right: Cond };

export interface ParsedQuery {
  fields: string[];
  from: string;
  /** Full-text search: the phrase and where to look (Vault's default scope is PROPERTIES). */
  find?: { phrase: string; scope: 'ALL' | 'CONTENT' | 'PROPERTIES' };
  where?: Cond;
  orderBy?: { field: string; desc: boolean };
  maxRows?: number;
  pageSize?: number;
  pageOffset?: number;
}

/**
 * @example
 * parseVql("SELECT id FROM documents WHERE status__v = 'Effective'")
 */
export function parseVql(q: string): ParsedQuery {
  const toks = tokenize(q);
  let p = 0;
  const peek = () => toks[p];
  const kw = (w: string) => peek()?.t === 'id' && peek()!.v.toUpperCase() === w;
  const expectKw = (w: string) => {
    if (!kw(w)) throw new VqlSyntaxError(`expected ${w}`);
    p++;
  };
  const ident = () => {
    const t = toks[p++];
    if (t?.t !== 'id') throw new VqlSyntaxError('expected a field name');
    return t.v;
  };
  const literal = (): unknown => {
    const t = toks[p++];
    if (t?.t === 'str') return t.v;
    if (t?.t === 'num') return Number(t.v);
    if (t?.t === 'id' && /^(true|false)$/i.test(t.v)) return t.v.toLowerCase() === 'true';
    if (t?.t === 'id' && /^null$/i.test(t.v)) return null;
    throw new VqlSyntaxError('expected a literal value');
  };
  const int = () => {
    const t = toks[p++];
    if (t?.t !== 'num' || !/^\d+$/.test(t.v)) throw new VqlSyntaxError('expected a number');
    return Number(t.v);
  };

  expectKw('SELECT');
  const fields = [ident()];
  while (peek()?.v === ',') {
    p++;
    fields.push(ident());
  }
  expectKw('FROM');
  const from = ident();
  const out: ParsedQuery = { fields, from };
  if (kw('FIND')) {
    p++;
    if (toks[p++]?.v !== '(') throw new VqlSyntaxError('expected ( after FIND');
    const phrase = toks[p++];
    if (phrase?.t !== 'str') throw new VqlSyntaxError('expected a quoted search phrase');
    let scope: 'ALL' | 'CONTENT' | 'PROPERTIES' = 'PROPERTIES';
    if (kw('SCOPE')) {
      p++;
      const sc = ident().toUpperCase();
      if (sc !== 'ALL' && sc !== 'CONTENT' && sc !== 'PROPERTIES') throw new VqlSyntaxError(`unknown SCOPE ${sc}`);
      scope = sc;
    }
    if (toks[p++]?.v !== ')') throw new VqlSyntaxError('expected ) after the search phrase');
    out.find = { phrase: phrase.v, scope };
  }

  const primary = (): Cond => {
    if (peek()?.v === '(') {
      p++;
      const c = orExpr();
      if (toks[p++]?.v !== ')') throw new VqlSyntaxError('expected )');
      return c;
    }
    const field = ident();
    if (kw('IN')) {
      p++;
      if (toks[p++]?.v !== '(') throw new VqlSyntaxError('expected ( after IN');
      const values = [literal()];
      while (peek()?.v === ',') {
        p++;
        values.push(literal());
      }
      if (toks[p++]?.v !== ')') throw new VqlSyntaxError('expected )');
      return { kind: 'in', field, values };
    }
    if (kw('LIKE') || kw('CONTAINS')) {
      const op = toks[p++]!.v.toUpperCase();
      return { kind: 'cmp', field, op, value: literal() };
    }
    const op = toks[p++];
    if (op?.t !== 'op') throw new VqlSyntaxError('expected a comparison operator');
    return { kind: 'cmp', field, op: op.v, value: literal() };
  };
  const andExpr = (): Cond => {
    let left = primary();
    while (kw('AND')) {
      p++;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  function orExpr(): Cond {
    let left = andExpr();
    while (kw('OR')) {
      p++;
      left = { kind: 'or', left, right: andExpr() };
    }
    return left;
  }

  if (kw('WHERE')) {
    p++;
    out.where = orExpr();
  }
  if (kw('ORDER')) {
    p++;
    expectKw('BY');
    const field = ident();
    let desc = false;
    if (kw('ASC') || kw('DESC')) desc = toks[p++]!.v.toUpperCase() === 'DESC';
    out.orderBy = { field, desc };
  }
  for (;;) {
    if (kw('MAXROWS')) {
      p++;
      out.maxRows = int();
      continue;
    }
    if (kw('PAGESIZE') || kw('LIMIT')) {
      p++;
      out.pageSize = int();
      continue;
    }
    if (kw('PAGEOFFSET') || kw('OFFSET')) {
      p++;
      out.pageOffset = int();
      continue;
    }
    break;
  }
  if (p !== toks.length) throw new VqlSyntaxError(`unexpected '${toks[p]!.v}'`);
  return out;
}

/** Evaluate a condition against a row. */
export function matches(row: Record<string, unknown>, c: Cond | undefined): boolean {
  if (!c) return true;
  switch (c.kind) {
    case 'and':
      return matches(row, c.left) && matches(row, c.right);
    case 'or':
      return matches(row, c.left) || matches(row, c.right);
    case 'in':
      return c.values.some((v) => eq(row[c.field], v));
    case 'cmp': {
      const a = row[c.field];
      const b = c.value;
      switch (c.op) {
        case '=':
          return eq(a, b);
        case '!=':
          return !eq(a, b);
        case '<':
          return cmp(a, b) < 0;
        case '>':
          return cmp(a, b) > 0;
        case '<=':
          return cmp(a, b) <= 0;
        case '>=':
          return cmp(a, b) >= 0;
        case 'LIKE':
          return likeRe(str(b)).test(str(a));
        case 'CONTAINS':
          return str(a).toLowerCase().includes(str(b).toLowerCase());
        default:
          return false;
      }
    }
  }
}

function eq(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return a.some((x) => eq(x, b));
  return a === b || (a !== null && b !== null && a !== undefined && str(a) === str(b));
}

function cmp(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return str(a).localeCompare(str(b));
}

/** A field value as text, the way VQL compares it (null and missing are empty). */
export function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

const wordCache = new Map<string, string[]>();

/** The lower-cased words of a text, memoised (the simulator re-searches the same few texts). */
function wordsOf(text: string): string[] {
  let w = wordCache.get(text);
  if (!w) {
    w = text.toLowerCase().split(/[^\p{L}\p{N}]+/u);
    if (wordCache.size >= 5000) wordCache.clear();
    wordCache.set(text, w);
  }
  return w;
}

/**
 * How well `text` matches a FIND phrase: 0 when some term is missing (strict matching), else the
 * number of term occurrences. Terms match word prefixes, case-insensitively (Vault adds a trailing
 * wildcard); quoted phrases and operators are not modelled (quotes, `*` and delimiters split terms).
 */
export function findRank(text: string, phrase: string): number {
  // Delimited strings are tokenized on both sides, as Vault does (v20.2+).
  const terms = phrase
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  if (!terms.length) return 0;
  const words = wordsOf(text);
  let rank = 0;
  for (const t of terms) {
    const n = words.filter((w) => w.startsWith(t)).length;
    if (!n) return 0;
    rank += n;
  }
  return rank;
}

function likeRe(pattern: string): RegExp {
  const re = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*');
  return new RegExp(`^${re}$`, 'i');
}
