/**
 * What happens around each `/mcp` call besides the call itself: tool metrics, the audit row of every
 * tool call (awaited, so it is durable before the response), and refusals — counted by reason always,
 * audited in the tenant's log when the tenant is known (a request refused before the tenant is known
 * has nowhere to be audited, and goes to metrics and the request log only).
 *
 * @module
 */
import type { AuditEntry, AuditWriter } from '../audit/index.js';
import { ERROR_CODES, isAppError, type ErrorCode } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { CallContext } from '../context/call-context.js';
import type { ToolCallEvent } from '../mcp/tool.js';
import type { Metrics } from '../metrics/index.js';

/**
 * "Who you are may not do this" (401/403 in the registry, or a token sent in the query string):
 * audited as `denied`, counted as auth failures. Decided by status so new codes classify themselves.
 */
function isDenied(code: string | undefined): boolean {
  if (!code) return false;
  if (code === 'ERR_TOKEN_IN_QUERY') return true;
  const status = (ERROR_CODES as Record<string, { status: number } | undefined>)[code as ErrorCode]?.status;
  return status === 401 || status === 403;
}

export interface CallObserver {
  /** The `onToolCall` hook for the request's MCP server. */
  onToolCall(ctx: CallContext, call: ToolCallEvent): Promise<void>;
  /** A request was refused with `e`; `ctx` has whatever was known when it was refused. */
  onRefused(ctx: Partial<CallContext>, e: unknown, tool: string | undefined, log?: Logger): Promise<void>;
}

function baseEntry(
  ctx: Partial<CallContext> & Pick<CallContext, 'user'>,
): Omit<AuditEntry, 'tool' | 'outcome' | 'errorCode' | 'latencyMs' | 'vaultUser'> {
  return {
    requestId: ctx.requestId,
    subject: ctx.user.subject,
    actor: ctx.user.actor,
    provider: ctx.user.provider,
    scopes: ctx.user.scopes,
  };
}

/**
 * @example
 * const observer = createCallObserver({ audit, metrics, log });
 * createMcpServer({ tools, scopes, onToolCall: (c) => observer.onToolCall(ctx, c) });
 */
export function createCallObserver(deps: { audit?: AuditWriter; metrics?: Metrics; log: Logger }): CallObserver {
  return {
    async onToolCall(ctx, call) {
      const tenant = ctx.tenant?.id ?? '';
      const outcome = isDenied(call.errorCode) ? 'denied' : call.outcome;
      deps.metrics?.toolCalls.inc({ tool: call.tool, outcome, tenant });
      deps.metrics?.toolDuration.observe({ tool: call.tool, tenant }, call.latencyMs / 1000);
      if (!deps.audit || !ctx.tenant) return;
      await deps.audit.record(ctx.tenant, {
        ...baseEntry(ctx),
        tool: call.tool,
        outcome,
        errorCode: call.errorCode,
        vaultUser: call.vaultUser,
        latencyMs: call.latencyMs,
        details: { args: call.args, ...(call.objects?.length ? { objects: call.objects } : {}) },
      });
    },
    async onRefused(ctx, e, tool, log = deps.log) {
      const code = isAppError(e) ? e.code : 'ERR_INTERNAL';
      if (code === 'ERR_RATE_LIMITED') {
        deps.metrics?.rateLimited.inc({ tenant: ctx.tenant?.id ?? '' });
        return; // not audited: auditing every 429 would hand the DB load back to the flooding client
      }
      if (!isDenied(code)) return;
      deps.metrics?.authFailures.inc({ reason: code, tenant: ctx.tenant?.id ?? '' });
      // The log line is the only record of refusals made before the tenant is known.
      log.warn({ code, tool, tenant: ctx.tenant?.id, sub: ctx.user?.subject }, 'request refused');
      if (!deps.audit || !ctx.tenant || !ctx.user) return;
      try {
        await deps.audit.record(ctx.tenant, {
          ...baseEntry({ ...ctx, user: ctx.user }),
          tool,
          outcome: 'denied',
          errorCode: code,
          vaultUser: undefined,
          latencyMs: undefined,
        });
      } catch (err) {
        // The request is refused either way; the failure is already logged and counted by the writer.
        log.warn({ code, err: (err as Error).message }, 'could not audit a refused request');
      }
    },
  };
}
