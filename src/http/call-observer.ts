/**
 * What happens around each `/mcp` call besides the call itself: tool metrics, the audit row of every
 * tool call (awaited, so it is durable before the response), and refusals — counted by reason always,
 * audited in the tenant's log when the tenant is known (a request refused before the tenant is known
 * has nowhere to be audited, and goes to metrics and the request log only).
 *
 * @module
 */
import type { AuditEntry, AuditWriter } from '../audit/index.js';
import { isAppError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { CallContext } from '../mcp/context.js';
import type { ToolCallEvent } from '../mcp/tool.js';
import type { Metrics } from '../metrics/index.js';

/** Codes that mean "who you are may not do this": audited as `denied`, counted as auth failures. */
const DENIED_RE = /^ERR_(AUTH_|TENANT_|TOKEN_IN_QUERY)/;

export interface CallObserver {
  /** The `onToolCall` hook for the request's MCP server. */
  onToolCall(ctx: CallContext, call: ToolCallEvent): Promise<void>;
  /** A request was refused with `e`; `ctx` has whatever was known when it was refused. */
  onRefused(ctx: Partial<CallContext>, e: unknown, tool: string | undefined): Promise<void>;
}

function baseEntry(ctx: Partial<CallContext> & Pick<CallContext, 'user'>): Omit<AuditEntry, 'tool' | 'outcome' | 'errorCode' | 'latencyMs'> {
  return {
    requestId: ctx.requestId,
    subject: ctx.user.subject,
    actor: ctx.user.actor,
    provider: ctx.user.provider,
    scopes: ctx.user.scopes,
    // Set by the Vault work once tools act as a Vault user.
    vaultUser: undefined,
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
      const outcome = call.errorCode && DENIED_RE.test(call.errorCode) ? 'denied' : call.outcome;
      deps.metrics?.toolCalls.inc({ tool: call.tool, outcome, tenant });
      deps.metrics?.toolDuration.observe({ tool: call.tool, tenant }, call.latencyMs / 1000);
      if (!deps.audit || !ctx.tenant) return;
      await deps.audit.record(ctx.tenant, {
        ...baseEntry(ctx),
        tool: call.tool,
        outcome,
        errorCode: call.errorCode,
        latencyMs: call.latencyMs,
        details: { args: call.args },
      });
    },
    async onRefused(ctx, e, tool) {
      const code = isAppError(e) ? e.code : 'ERR_INTERNAL';
      if (code === 'ERR_RATE_LIMITED') {
        deps.metrics?.rateLimited.inc({ tenant: ctx.tenant?.id ?? '' });
        return; // not audited: auditing every 429 would hand the DB load back to the flooding client
      }
      if (!DENIED_RE.test(code)) return;
      deps.metrics?.authFailures.inc({ reason: code, tenant: ctx.tenant?.id ?? '' });
      if (!deps.audit || !ctx.tenant || !ctx.user) return;
      try {
        await deps.audit.record(ctx.tenant, { ...baseEntry({ ...ctx, user: ctx.user }), tool, outcome: 'denied', errorCode: code, latencyMs: undefined });
      } catch (err) {
        // The request is refused either way; the failure is already logged and counted by the writer.
        deps.log.warn({ code, err: (err as Error).message }, 'could not audit a refused request');
      }
    },
  };
}
