/**
 * Prometheus metrics (prom-client) in one registry per server, so tests and several servers in one
 * process do not collide. Modules receive the object and feed the series they own; `http/metrics.ts`
 * serves the text format. Tenant ids are labels: their number is bounded by the tenants configured.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Buckets in seconds for request / tool / Vault latencies. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method'>;
  /** Refused requests, by error code (`ERR_AUTH_INVALID_TOKEN`, …); tenant is '' when unknown. */
  authFailures: Counter<'reason' | 'tenant'>;
  rateLimited: Counter<'tenant'>;
  toolCalls: Counter<'tool' | 'outcome' | 'tenant'>;
  toolDuration: Histogram<'tool' | 'tenant'>;
  auditBatchSize: Histogram;
  auditFlushDuration: Histogram;
  auditFailures: Counter<'tenant'>;
  /** Audit rows waiting for their commit (queued or in a committing batch). */
  auditPending: Gauge;
  /** Fed by the Vault session manager and client: session cache hits/misses, logins, re-logins, latency, errors. */
  vaultSessionCache: Counter<'tenant' | 'result'>;
  /** `mode`: service_account (a password login of the service account, delegated tenants too), delegated, oauth. */
  vaultLogins: Counter<'tenant' | 'mode' | 'outcome'>;
  /** Sessions Vault rejected (INVALID_SESSION_ID) and replaced by a fresh login. */
  vaultRelogins: Counter<'tenant'>;
  /** Per attempt; `status` is the HTTP status, or `timeout` / `network`. */
  vaultDuration: Histogram<'tenant' | 'status'>;
  /** Failed Vault calls by Vault error type (`INVALID_DATA`, …) or transport type (`HTTP_429`, `TIMEOUT`, …). */
  vaultErrors: Counter<'tenant' | 'type'>;
  /** Authorization server outcomes: event (authorize, sign_in, consent, token, refresh, refresh_reuse, code_replay, revoke), outcome, reason (error code). */
  oauthEvents: Counter<'event' | 'outcome' | 'reason'>;
  // HTTP edge (src/http).
  /** Rate-limit decisions made by the in-process fallback because the shared store failed or was slow. */
  rateLimitFallbacks: Counter<'store'>;
  /** Connections closed at once because their client address already had HTTP_MAX_CONNECTIONS_PER_CLIENT open. */
  connectionsRefused: Counter;
}

/**
 * Create the registry and every series.
 *
 * @example
 * const metrics = createMetrics();
 * metrics.toolCalls.inc({ tool: 'whoami', outcome: 'ok', tenant: 'acme' });
 * const text = await metrics.registry.metrics();
 */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'vault_mcp_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'vault_mcp_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'vault_mcp_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    authFailures: new Counter({
      name: 'vault_mcp_auth_failures_total',
      help: 'Refused requests by reason (error code) and tenant (empty when unknown)',
      labelNames: ['reason', 'tenant'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'vault_mcp_rate_limited_total',
      help: 'Requests answered 429 by tenant (or empty when keyed by subject)',
      labelNames: ['tenant'],
      registers,
    }),
    toolCalls: new Counter({
      name: 'vault_mcp_tool_calls_total',
      help: 'Tool calls by tool, outcome and tenant',
      labelNames: ['tool', 'outcome', 'tenant'],
      registers,
    }),
    toolDuration: new Histogram({
      name: 'vault_mcp_tool_duration_seconds',
      help: 'Tool run time (excluding the audit write)',
      labelNames: ['tool', 'tenant'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    auditBatchSize: new Histogram({
      name: 'vault_mcp_audit_batch_size',
      help: 'Audit rows committed per transaction (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    }),
    auditFlushDuration: new Histogram({
      name: 'vault_mcp_audit_flush_duration_seconds',
      help: 'Audit batch transaction time',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    auditFailures: new Counter({
      name: 'vault_mcp_audit_failures_total',
      help: 'Audit batches that failed to commit (their calls failed)',
      labelNames: ['tenant'],
      registers,
    }),
    auditPending: new Gauge({
      name: 'vault_mcp_audit_pending_rows',
      help: 'Audit rows waiting for their commit (callers blocked on the audit log)',
      registers,
    }),
    vaultSessionCache: new Counter({
      name: 'vault_mcp_vault_session_cache_total',
      help: 'Vault session lookups by result (hit, miss)',
      labelNames: ['tenant', 'result'],
      registers,
    }),
    vaultLogins: new Counter({
      name: 'vault_mcp_vault_logins_total',
      help: 'Vault logins by mode and outcome',
      labelNames: ['tenant', 'mode', 'outcome'],
      registers,
    }),
    vaultRelogins: new Counter({
      name: 'vault_mcp_vault_relogins_total',
      help: 'Vault sessions rejected with INVALID_SESSION_ID and replaced by a new login',
      labelNames: ['tenant'],
      registers,
    }),
    vaultDuration: new Histogram({
      name: 'vault_mcp_vault_request_duration_seconds',
      help: 'Vault API request duration per attempt by HTTP status (or timeout, network)',
      labelNames: ['tenant', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    vaultErrors: new Counter({
      name: 'vault_mcp_vault_errors_total',
      help: 'Failed Vault calls by error type',
      labelNames: ['tenant', 'type'],
      registers,
    }),
    oauthEvents: new Counter({
      name: 'vault_mcp_oauth_events_total',
      help: 'Authorization server events by outcome (ok, denied, error) and reason (error code)',
      labelNames: ['event', 'outcome', 'reason'],
      registers,
    }),
    rateLimitFallbacks: new Counter({
      name: 'vault_mcp_rate_limit_fallbacks_total',
      help: 'Rate-limit decisions taken in-process because the shared store (postgres, redis) failed or timed out',
      labelNames: ['store'],
      registers,
    }),
    connectionsRefused: new Counter({
      name: 'vault_mcp_http_connections_refused_total',
      help: 'Connections refused because their client address had HTTP_MAX_CONNECTIONS_PER_CLIENT open',
      registers,
    }),
  };
}
