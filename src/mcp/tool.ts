/**
 * The tool definition shape and its registration on a per-request McpServer: a tool is listed and
 * callable only when the caller holds its scopes, so `tools/list` shows exactly what the caller may
 * call. `tools/list` and `tools/call` are answered here (not by McpServer.registerTool) so that input
 * errors name the argument instead of dumping the schema library's issues, an unknown tool or a
 * non-object `arguments` is a clean JSON-RPC -32602, and each tool's JSON Schema is computed once per
 * process. Errors become tool errors (`isError: true`) with a stable code and a safe message; results
 * are capped in size (see output.ts).
 *
 * @module
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Protocol, type RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ElicitRequestFormParams,
  type ElicitResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
  type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { dbUnavailable } from '../db/unavailable.js';
import { AppError, isAppError } from '../errors/index.js';
import { actedAs, type Acted, type CallContext } from '../context/call-context.js';
import { fromAuthInfo } from './context.js';
import { capOutputJson, truncationShape } from './output.js';

export interface ToolDef<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /** All of these scopes are needed to see and call the tool. */
  scopes: string[];
  input: Shape;
  /** The shape of `structuredContent` (published as `outputSchema`); truncation fields are added. */
  output?: z.ZodRawShape;
  annotations?: ToolAnnotations;
  /** The value is shown to the client; `vaultUser` (from `withSession`) goes to the audit row. */
  run(args: z.infer<z.ZodObject<Shape>>, ctx: CallContext, io?: ToolIo): Promise<ToolOutput>;
}

/** What a tool returns: its value, as whom it acted in Vault, and which Vault objects it touched (audit). */
export type ToolOutput = Acted<unknown> & { objects?: string[] };

/** What a tool may do besides returning: progress, log lines, and (when the client can) ask the user. */
export interface ToolIo {
  /** Report progress (only when the caller sent a progress token). */
  progress?(progress: number, total?: number, message?: string): Promise<void>;
  /** A `notifications/message` log line for the client. */
  log(level: 'debug' | 'info' | 'warning' | 'error', data: unknown): Promise<void>;
  /** Ask the user through MCP elicitation; absent when the client did not declare the capability. */
  elicit?(params: ElicitRequestFormParams): Promise<ElicitResult>;
}

/** Define a tool with its input types inferred. */
export function defineTool<Shape extends z.ZodRawShape>(def: ToolDef<Shape>): ToolDef<Shape> {
  return def;
}

/** Every scope some tool needs, plus the default read scope: what clients may ask for (both metadata documents). */
export function scopesSupported(tools: readonly Pick<ToolDef, 'scopes'>[]): string[] {
  return [...new Set(['vault:read', ...tools.flatMap((t) => t.scopes)])];
}

/** True when `scopes` includes every scope the tool needs. */
export function mayCall(tool: Pick<ToolDef, 'scopes'>, scopes: readonly string[]): boolean {
  return tool.scopes.every((s) => scopes.includes(s));
}

/**
 * Render a handler's result as MCP content: compact JSON text plus, for objects, the same value as
 * structured content (the spec asks for the serialised JSON in a text block beside it; compact
 * because indentation only costs the model tokens and the server bytes). `json`, when given, is
 * `JSON.stringify(value)` already computed (by the output cap).
 */
export function toResult(value: unknown, json?: string): CallToolResult {
  const text = typeof value === 'string' ? value : (json ?? JSON.stringify(value));
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
  /** The Vault objects the call touched (`documents/101`, `deviation__c/V0D…`), when the tool says. */
  objects?: string[];
}

export interface ToolHooks {
  onError?: (tool: string, e: unknown) => void;
  /**
   * Awaited after every call and before its result is returned (audit: durable before the response).
   * If it throws, the caller gets that error as a tool error instead of the result.
   */
  onCall?: (call: ToolCallEvent) => Promise<void> | void;
}

/** A tools/call request whose `arguments` may be anything: we answer a bad one ourselves, cleanly. */
const LenientCallToolRequest = z.object({
  method: z.literal('tools/call'),
  params: z.looseObject({ name: z.unknown(), arguments: z.unknown().optional() }),
});

const listings = new WeakMap<ToolDef, Tool>();
const schemas = new WeakMap<ToolDef, z.ZodType>();

/** The tool as tools/list shows it (JSON Schemas computed once per tool definition). */
export function toolListing(tool: ToolDef): Tool {
  let t = listings.get(tool);
  if (!t) {
    t = {
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: z.toJSONSchema(inputSchema(tool), { io: 'input' }) as Tool['inputSchema'],
      ...(tool.output
        ? {
            outputSchema: z.toJSONSchema(z.looseObject({ ...tool.output, ...truncationShape }), {
              io: 'output',
            }) as Tool['outputSchema'],
          }
        : {}),
      annotations: { title: tool.title, ...tool.annotations },
    };
    listings.set(tool, t);
  }
  return t;
}

function inputSchema(tool: ToolDef): z.ZodType {
  let s = schemas.get(tool);
  if (!s) schemas.set(tool, (s = z.strictObject(tool.input)));
  return s;
}

/**
 * Input issues as one message naming each argument, e.g.
 * `Invalid argument 'page_size': must be at most 200; unknown argument 'pagesize'`.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string {
  const parts = issues.slice(0, 5).map((i) => {
    if (i.code === 'unrecognized_keys')
      return `unknown argument${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}`;
    const at = i.path.length ? i.path.map(String).join('.') : '(arguments)';
    return `'${at}': ${issueText(i, valueAt(input, i.path))}`;
  });
  return `Invalid argument ${parts.join('; ')}`;
}

/** The value at `path` in the raw input (zod does not keep it on the issue). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function issueText(i: z.core.$ZodIssue, given: unknown): string {
  switch (i.code) {
    case 'invalid_type':
      return given === undefined
        ? `required (${i.expected})`
        : `must be ${i.expected === 'int' ? 'an integer' : `a ${i.expected}`}`;
    case 'too_small':
      return i.origin === 'string' || i.origin === 'array'
        ? `must have at least ${String(i.minimum)} ${i.origin === 'string' ? 'characters' : 'items'}`
        : `must be at least ${String(i.minimum)}${i.inclusive ? '' : ' (exclusive)'}`;
    case 'too_big':
      return i.origin === 'string' || i.origin === 'array'
        ? `must have at most ${String(i.maximum)} ${i.origin === 'string' ? 'characters' : 'items'}`
        : `must be at most ${String(i.maximum)}`;
    case 'invalid_value':
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `must be ${i.format === 'datetime' ? 'an ISO 8601 date-time' : `a valid ${i.format}`}`;
    default:
      return i.message;
  }
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
  const allowed = new Map(tools.filter((t) => mayCall(t, scopes)).map((t) => [t.name, t]));
  const low = server.server;
  low.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...allowed.values()].map(toolListing) }));
  // Protocol's own setRequestHandler: Server's override re-validates tools/call with the strict SDK
  // schema and answers a non-object `arguments` with the schema library's raw issue dump.
  const handle = async (
    request: z.infer<typeof LenientCallToolRequest>,
    extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
  ): Promise<CallToolResult> => {
    const { name, arguments: raw } = request.params;
    const tool = typeof name === 'string' ? allowed.get(name) : undefined;
    if (!tool)
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool ${JSON.stringify(String(name).slice(0, 128))}`);
    if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw)))
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: 'arguments' must be an object");
    const started = performance.now();
    let result: CallToolResult;
    let errorCode: string | undefined;
    let vaultUser: string | undefined;
    let objects: string[] | undefined;
    let args: unknown = raw ?? {};
    try {
      const parsed = inputSchema(tool).safeParse(raw ?? {});
      if (!parsed.success) throw new AppError('ERR_INVALID_ARGUMENT', describeIssues(parsed.error.issues, raw ?? {}));
      args = parsed.data;
      const ctx: CallContext = fromAuthInfo(extra.authInfo);
      const token = extra._meta?.progressToken;
      const io: ToolIo = {
        progress:
          token === undefined
            ? undefined
            : (progress, total, message) =>
                extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken: token, progress, total, message },
                  })
                  .catch(() => undefined),
        log: (level, data) =>
          extra
            .sendNotification({ method: 'notifications/message', params: { level, logger: tool.name, data } })
            .catch(() => undefined),
        elicit: low.getClientCapabilities()?.elicitation ? (params) => low.elicitInput(params) : undefined,
      };
      const out = await tool.run(args as never, ctx, io);
      vaultUser = out.vaultUser;
      objects = out.objects;
      const { value, json } = capOutputJson(out.value);
      if (value !== out.value) void io.log('warning', (value as { hint?: string }).hint);
      result = toResult(value, json);
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
          objects,
        });
      } catch (e) {
        return toErrorResult(e);
      }
    }
    return result;
  };
  Protocol.prototype.setRequestHandler.call(low, LenientCallToolRequest, handle);
}
