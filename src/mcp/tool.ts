/**
 * The tool definition shape and its registration on a per-request McpServer: a tool is registered only
 * when the caller holds its scopes, so `tools/list` shows exactly what the caller may call. Errors
 * become tool errors (`isError: true`) with a stable code and a safe message.
 *
 * @module
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { dbUnavailable } from '../db/unavailable.js';
import { isAppError } from '../errors/index.js';
import { actedAs, type Acted, type CallContext } from '../context/call-context.js';
import { fromAuthInfo } from './context.js';

export interface ToolDef<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /** All of these scopes are needed to see and call the tool. */
  scopes: string[];
  input: Shape;
  annotations?: ToolAnnotations;
  /** The value is shown to the client; `vaultUser` (from `withSession`) goes to the audit row. */
  run(args: z.infer<z.ZodObject<Shape>>, ctx: CallContext): Promise<ToolOutput>;
}

/** What a tool returns: its value and, when it acted in Vault, as whom. */
export type ToolOutput = Acted<unknown>;

/** Define a tool with its input types inferred. */
export function defineTool<Shape extends z.ZodRawShape>(def: ToolDef<Shape>): ToolDef<Shape> {
  return def;
}

/** True when `scopes` includes every scope the tool needs. */
export function mayCall(tool: Pick<ToolDef, 'scopes'>, scopes: readonly string[]): boolean {
  return tool.scopes.every((s) => scopes.includes(s));
}

/** Render a handler's result as MCP content: text JSON plus structured content for objects. */
export function toResult(value: unknown): CallToolResult {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const structured =
    value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  return { content: [{ type: 'text', text }], ...(structured ? { structuredContent: structured } : {}) };
}

/** Render an error as a tool error. Unknown errors never leak their message or stack. */
export function toErrorResult(e: unknown): CallToolResult {
  const text = isAppError(e) ? `${e.code}: ${e.message}` : 'ERR_INTERNAL: the tool failed unexpectedly';
  return { isError: true, content: [{ type: 'text', text }] };
}

/** What the `onCall` hook learns about each tool call, after the tool ran. */
export interface ToolCallEvent {
  tool: string;
  /** The validated input, for an audit summary (the hook must not store it verbatim). */
  args: unknown;
  outcome: 'ok' | 'error';
  /** The AppError code when the tool failed (`ERR_INTERNAL` for unexpected errors). */
  errorCode: string | undefined;
  latencyMs: number;
  /** The Vault user the tool acted as, when it used a Vault session (see `withSession`). */
  vaultUser: string | undefined;
}

export interface ToolHooks {
  onError?: (tool: string, e: unknown) => void;
  /**
   * Awaited after every call and before its result is returned (audit: durable before the response).
   * If it throws, the caller gets that error as a tool error instead of the result.
   */
  onCall?: (call: ToolCallEvent) => Promise<void> | void;
}

/**
 * Register the tools the caller may call.
 *
 * @example
 * registerTools(server, allTools, ctx.user.scopes, { onError, onCall: (c) => audit(c) });
 */
export function registerTools(
  server: McpServer,
  tools: readonly ToolDef[],
  scopes: readonly string[],
  hooks: ToolHooks = {},
): void {
  for (const tool of tools) {
    if (!mayCall(tool, scopes)) continue;
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        annotations: tool.annotations ?? {},
      },
      async (args: unknown, extra) => {
        const started = performance.now();
        let result: CallToolResult;
        let errorCode: string | undefined;
        let vaultUser: string | undefined;
        try {
          const ctx: CallContext = fromAuthInfo(extra.authInfo);
          const out = await tool.run(args as never, ctx);
          vaultUser = out.vaultUser;
          result = toResult(out.value);
        } catch (thrown) {
          vaultUser = actedAs(thrown);
          // A lost database connection (session store, user mappings) is a clear, retryable 503-class error.
          const e = dbUnavailable(thrown) ?? thrown;
          hooks.onError?.(tool.name, e);
          errorCode = isAppError(e) ? e.code : 'ERR_INTERNAL';
          result = toErrorResult(e);
        }
        if (hooks.onCall) {
          const latencyMs = performance.now() - started;
          try {
            await hooks.onCall({
              tool: tool.name,
              args,
              outcome: errorCode ? 'error' : 'ok',
              errorCode,
              latencyMs,
              vaultUser,
            });
          } catch (e) {
            return toErrorResult(e);
          }
        }
        return result;
      },
    );
  }
}
