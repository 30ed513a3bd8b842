/**
 * The audit writer: group commit per tenant. `record()` queues a row and resolves only after the
 * transaction holding it has committed, so a tool response is sent after its audit row is durable.
 *
 * - One queue per tenant; at most one batch per tenant in flight in this process. Rows that arrive
 *   while a batch commits form the next batch, so under load each commit carries many rows (the
 *   classic group commit) and when idle a row waits at most `lingerMs` (0 = the next event-loop turn).
 * - Each batch is one `withTenant` transaction of three round trips: BEGIN with a per-tenant transaction
 *   advisory lock and the last hash read inside the lock, then one multi-row INSERT, then COMMIT. Replicas sharing the database therefore
 *   extend the same chain in turn and never fork it.
 * - Rows are keyed (hash version 2: HMAC under the tenant's key derived from SECRET_KEY, see keys.ts).
 *   Without keys (a development server with no stable SECRET_KEY) they are written unkeyed (version
 *   1), which `audit verify` reports once keyed rows exist.
 * - If the batch fails, every caller in it gets `ERR_DB_UNAVAILABLE`: an action we could not audit
 *   is reported as failed rather than silently unaudited.
 * - `close()` refuses new rows and flushes everything queued, so nothing awaited is lost on SIGTERM.
 *
 * @module
 */
import type { Pool } from '../db/pool.js';
import type { SchemaName } from '../db/schema-name.js';
import { withTenant } from '../db/with-tenant.js';
import { AppError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { toRow, type AuditEntry, type AuditRow } from './entry.js';
import { chainHash, chainMac, HASH_V1, HASH_V2 } from './hash.js';
import type { AuditKeys } from './keys.js';

/** Advisory-lock namespace for audit chains ('vmca'); the migration runner uses 'vmcp'. */
export const AUDIT_LOCK_NS = 0x766d6361;

/** The tenant a row belongs to: its id (metrics, logs) and schema (storage). */
export interface AuditTenant {
  id: string;
  schema: SchemaName;
}

export interface AuditWriter {
  /** Queue a row; resolves once it is committed, rejects with ERR_DB_UNAVAILABLE otherwise. */
  record(tenant: AuditTenant, entry: AuditEntry): Promise<void>;
  /** Refuse new rows and flush everything queued. Idempotent. */
  close(): Promise<void>;
}

interface Item {
  row: AuditRow;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Queue {
  tenant: AuditTenant;
  items: Item[];
  scheduled: boolean;
  flushing: Promise<void> | undefined;
}

const COLUMNS = [
  'at',
  'request_id',
  'subject',
  'actor',
  'provider',
  'tool',
  'scopes',
  'outcome',
  'error_code',
  'vault_user',
  'latency_ms',
  'details',
  'prev_hash',
  'hash',
  'hash_version',
  'key_id',
];
const CASTS = [
  '::timestamptz',
  '',
  '',
  '',
  '',
  '',
  '::text[]',
  '',
  '',
  '',
  '::integer',
  '::jsonb',
  '::bytea',
  '::bytea',
  '::smallint',
  '',
];

/**
 * Create the writer.
 *
 * @example
 * const audit = createAuditWriter({ pool, log });
 * await audit.record({ id: 'acme', schema }, { subject, outcome: 'ok', tool: 'whoami', scopes: [], ... });
 * await audit.close();
 */
export function createAuditWriter(opts: {
  pool: Pool;
  log: Logger;
  metrics?: Metrics;
  /** Most rows per transaction (default 256). */
  maxBatch?: number;
  /** How long an idle queue waits for company before flushing, in ms (default 0: next turn). */
  lingerMs?: number;
  /** Chain keys (from SECRET_KEY); without them rows are written unkeyed. */
  keys?: AuditKeys;
}): AuditWriter {
  const maxBatch = opts.maxBatch ?? 256;
  const lingerMs = opts.lingerMs ?? 0;
  const queues = new Map<string, Queue>();
  let closing: Promise<void> | undefined;

  async function writeBatch(tenant: AuditTenant, rows: AuditRow[]): Promise<void> {
    // Serialise chain extension for this tenant across every replica, and read the head only after the
    // lock (its own statement, so its own snapshot): sent with BEGIN, one round trip instead of three.
    const first =
      // Inside withTenant current_schema() is the tenant's schema: the same key as hashtext(schema).
      `SELECT pg_advisory_xact_lock(${AUDIT_LOCK_NS}, hashtext(current_schema())); ` +
      'SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1';
    await withTenant(
      opts.pool,
      tenant.schema,
      async (tx, head) => {
        let prev = (head[0]?.hash as Buffer | null | undefined) ?? null;
        const key = opts.keys?.current(tenant.id);
        const params: unknown[] = [];
        const tuples: string[] = [];
        for (const r of rows) {
          const hash = key ? chainMac(key.key, prev, r) : chainHash(prev, r);
          const base = params.length;
          params.push(
            r.at,
            r.request_id,
            r.subject,
            r.actor,
            r.provider,
            r.tool,
            r.scopes,
            r.outcome,
            r.error_code,
            r.vault_user,
            r.latency_ms,
            JSON.stringify(r.details),
            prev,
            hash,
            key ? HASH_V2 : HASH_V1,
            key?.keyId ?? null,
          );
          tuples.push(`(${COLUMNS.map((_, i) => `$${base + i + 1}${CASTS[i]}`).join(', ')})`);
          prev = hash;
        }
        // VALUES rows get their identity ids in list order, which is the chain order.
        await tx.query(`INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
      },
      { first },
    );
  }

  function flush(q: Queue): Promise<void> {
    const batch = q.items.splice(0, maxBatch);
    if (!batch.length) return Promise.resolve();
    const started = performance.now();
    q.flushing = writeBatch(
      q.tenant,
      batch.map((i) => i.row),
    )
      .then(
        () => {
          opts.metrics?.auditBatchSize.observe(batch.length);
          opts.metrics?.auditFlushDuration.observe((performance.now() - started) / 1000);
          for (const i of batch) i.resolve();
        },
        (e: unknown) => {
          opts.metrics?.auditFailures.inc({ tenant: q.tenant.id });
          opts.log.error(
            { tenant: q.tenant.id, rows: batch.length, err: (e as Error).message },
            'audit batch failed to commit',
          );
          const err = new AppError(
            'ERR_DB_UNAVAILABLE',
            'The audit log could not be written, so the call was not completed; retry shortly',
            {},
            { cause: e },
          );
          for (const i of batch) i.reject(err);
        },
      )
      .finally(() => {
        opts.metrics?.auditPending.dec(batch.length);
        q.flushing = undefined;
        // Rows that arrived during this commit already waited one commit: flush them now.
        if (q.items.length) void flush(q);
      });
    return q.flushing;
  }

  function schedule(q: Queue): void {
    if (q.flushing) return; // the running flush picks the rows up when it finishes
    if (q.items.length >= maxBatch) {
      void flush(q);
      return;
    }
    if (q.scheduled) return;
    q.scheduled = true;
    const go = () => {
      q.scheduled = false;
      if (!q.flushing) void flush(q);
    };
    if (lingerMs > 0) setTimeout(go, lingerMs);
    else setImmediate(go);
  }

  return {
    record(tenant, entry) {
      if (closing) {
        return Promise.reject(
          new AppError('ERR_DB_UNAVAILABLE', 'The server is shutting down; the call was not audited and not completed'),
        );
      }
      let row: AuditRow;
      try {
        row = toRow(entry);
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
      return new Promise<void>((resolve, reject) => {
        let q = queues.get(tenant.schema);
        if (!q) {
          q = { tenant, items: [], scheduled: false, flushing: undefined };
          queues.set(tenant.schema, q);
        }
        q.items.push({ row, resolve, reject });
        opts.metrics?.auditPending.inc();
        schedule(q);
      });
    },
    close() {
      closing ??= (async () => {
        // Keep going until no queue has rows or a batch in flight.
        for (;;) {
          const busy = [...queues.values()].filter((q) => q.items.length > 0 || q.flushing !== undefined);
          if (!busy.length) return;
          await Promise.all(busy.map((q) => q.flushing ?? flush(q)));
        }
      })();
      return closing;
    },
  };
}
