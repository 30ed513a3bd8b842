/**
 * Admission of an authenticated `POST /mcp` once its tenant is known, in the order that keeps an
 * abusive client cheap to refuse: one rate-limit token for the request, then the body (read with a
 * deadline, see body.ts), then the JSON-RPC batch rules, then one more token per further message of
 * a batch — a batch of 100 calls costs 100, not 1.
 *
 * Batches: MCP protocol versions from 2025-06-18 removed JSON-RPC batching, so a batch sent with such
 * an `MCP-Protocol-Version` header is refused; a batch containing `initialize` is refused in every
 * version (the spec makes initialization a lone request). Without the header the spec says to assume
 * 2025-03-26, which allowed batches.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors/index.js';
import { readJsonBody, type BodyLimits } from './body.js';
import type { RateLimiter } from './rate-limit.js';

/** The first protocol version without JSON-RPC batching. */
export const NO_BATCHING_FROM = '2025-06-18';

/**
 * How many messages `body` carries; throws ERR_BATCH_REFUSED for a batch the protocol does not allow.
 *
 * @example
 * batchMessages([{ jsonrpc: '2.0', id: 1, method: 'ping' }], '2025-03-26') // 1
 */
export function batchMessages(body: unknown, protocolVersion: string | string[] | undefined): number {
  if (!Array.isArray(body)) return 1;
  if (body.length === 0) throw new AppError('ERR_BATCH_REFUSED', 'An empty JSON-RPC batch is not a valid request');
  if (body.some((m) => (m as { method?: unknown } | null)?.method === 'initialize'))
    throw new AppError(
      'ERR_BATCH_REFUSED',
      "'initialize' must be sent on its own, not inside a JSON-RPC batch (MCP lifecycle)",
    );
  const version = typeof protocolVersion === 'string' ? protocolVersion.trim() : undefined;
  // Date-shaped versions compare as strings; anything else is left to the SDK, which refuses unknown versions.
  if (version && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= NO_BATCHING_FROM)
    throw new AppError(
      'ERR_BATCH_REFUSED',
      `MCP protocol version ${version} has no JSON-RPC batching (removed in ${NO_BATCHING_FROM}): send one message per request`,
    );
  return body.length;
}

export interface Intake {
  /** Charge the tenant, read and check the body; resolves to the parsed body. Throws an AppError. */
  admit(req: IncomingMessage, tenantId: string): Promise<unknown>;
}

/**
 * @example
 * const intake = createIntake({ rateLimiter, limits: { limitBytes: 1_048_576, timeoutMs: 10_000 } });
 * req.body = await intake.admit(req, tenant.id);
 */
export function createIntake(deps: { rateLimiter?: RateLimiter; limits: BodyLimits }): Intake {
  const charge = async (tenantId: string, count: number) => {
    const wait = await deps.rateLimiter?.take(`t:${tenantId}`, count);
    if (!wait) return;
    const what = count > 1 ? `a batch of ${count + 1} messages counts ${count + 1} requests; ` : '';
    throw new AppError('ERR_RATE_LIMITED', `Too many requests for tenant '${tenantId}'; ${what}retry in ${wait} s`, {
      retryAfter: wait,
    });
  };
  return {
    async admit(req, tenantId) {
      await charge(tenantId, 1);
      const body = await readJsonBody(req, deps.limits);
      const messages = batchMessages(body, req.headers['mcp-protocol-version']);
      if (messages > 1) await charge(tenantId, messages - 1);
      return body;
    },
  };
}
