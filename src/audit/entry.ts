/**
 * The audit record and how it is made safe to store: no tokens, no secrets, long values truncated,
 * and strings normalised so that what we hash is exactly what Postgres stores (no NUL bytes, no lone
 * UTF-16 surrogates, which the driver would silently rewrite and the chain would then fail to verify).
 *
 * @module
 */

/** One audited event: a tool call, or an authorisation failure once the tenant is known. */
export interface AuditEntry {
  /** When the event happened (defaults to now); stored with millisecond precision. */
  at?: Date;
  requestId: string | undefined;
  /** The verified subject (`provider:issuer|sub`), or who an API key acts as. */
  subject: string;
  /** For API keys: the service that acts. */
  actor: string | undefined;
  provider: string | undefined;
  tool: string | undefined;
  scopes: readonly string[];
  /** `ok`, `error` (the tool failed) or `denied` (auth / scope refusal). */
  outcome: 'ok' | 'error' | 'denied';
  errorCode: string | undefined;
  /** The Vault user the call acted as, once the Vault work sets it. */
  vaultUser: string | undefined;
  latencyMs: number | undefined;
  /** Extra, non-secret facts (e.g. a summary of the tool input). */
  details?: Record<string, unknown>;
}

/** The stored row's hashed fields, in storage form. */
export interface AuditRow {
  at: string;
  request_id: string | null;
  subject: string;
  actor: string | null;
  provider: string | null;
  tool: string | null;
  scopes: string[];
  outcome: string;
  error_code: string | null;
  vault_user: string | null;
  latency_ms: number | null;
  details: unknown;
}

const MAX_STRING = 200;
const MAX_KEYS = 30;
const MAX_ITEMS = 20;
const MAX_DEPTH = 4;
/** Keys whose values are never stored, whatever a tool passes. */
const SECRET_KEY_RE = /pass(word)?|secret|token|authori[sz]ation|session|cookie|api[-_]?key|credential|private/i;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Make a string storable byte-for-byte (text and jsonb refuse NUL; lone surrogates become U+FFFD). */
export function cleanString(s: string, max = Number.POSITIVE_INFINITY): string {
  const c = s.replaceAll('\u0000', '').replace(LONE_SURROGATE_RE, '\ufffd');
  return c.length > max ? `${c.slice(0, max)}…[${c.length} chars]` : c;
}

/**
 * Summarise a tool's input for the audit row: secret-looking keys redacted, long strings truncated,
 * big arrays/objects cut, depth limited.
 *
 * @example
 * summariseArgs({ q: 'x'.repeat(1000), password: 'p' }) // { q: 'xxx…[1000 chars]', password: '[redacted]' }
 */
export function summariseArgs(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return cleanString(value, MAX_STRING);
  if (typeof value === 'bigint') return value.toString();
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => summariseArgs(v, depth + 1));
    return value.length > MAX_ITEMS ? [...items, `…[${value.length} items]`] : items;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries.slice(0, MAX_KEYS)) {
      out[cleanString(k, 64)] = SECRET_KEY_RE.test(k) ? '[redacted]' : summariseArgs(v, depth + 1);
    }
    if (entries.length > MAX_KEYS) out['…'] = `${entries.length} keys`;
    return out;
  }
  return undefined;
}

const opt = (s: string | undefined, max: number) => (s === undefined ? null : cleanString(s, max));

/**
 * Turn an entry into its storage form. The result goes through a JSON round trip, so hashing it
 * gives the same bytes as hashing the row read back from Postgres.
 *
 * @example
 * const row = toRow({ subject: 's', outcome: 'ok', scopes: [], ... });
 */
export function toRow(e: AuditEntry): AuditRow {
  const at = e.at ?? new Date();
  const row: AuditRow = {
    at: at.toISOString(),
    request_id: opt(e.requestId, 64),
    subject: cleanString(e.subject, 512),
    actor: opt(e.actor, 512),
    provider: opt(e.provider, 64),
    tool: opt(e.tool, 128),
    scopes: e.scopes.map((s) => cleanString(s, 128)),
    outcome: e.outcome,
    error_code: opt(e.errorCode, 64),
    vault_user: opt(e.vaultUser, 256),
    latency_ms: e.latencyMs === undefined ? null : Math.max(0, Math.min(2_147_483_647, Math.round(e.latencyMs))),
    details: JSON.parse(JSON.stringify(summariseArgs(e.details ?? {}) ?? {})),
  };
  return row;
}
