/**
 * Builds the MCP server for one request (stateless mode): cheap to construct, and it registers only
 * what the caller's scopes allow. Each part of the surface is its own registration function (tools;
 * resources, prompts and completions through `surface`), so how the server is built can change
 * without touching them.
 *
 * @module
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { McpSurface } from './surface.js';
import type { ToolCallEvent, ToolDef } from './tool.js';
import { registerTools } from './tool.js';

export const SERVER_INFO = { name: 'vault-mcp', version: '0.1.0' } as const;

// One validator for every per-request server: by default each McpServer builds its own Ajv instance,
// which was ~10% of the CPU per request in the stack benchmark. It only caches compiled schemas.
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * @example
 * const server = createMcpServer({ tools, scopes: ctx.user.scopes, surface });
 * await server.connect(transport);
 */
export function createMcpServer(opts: {
  tools: readonly ToolDef[];
  scopes: readonly string[];
  /** Resources, prompts and completions (absent: tools only). */
  surface?: McpSurface;
  onToolError?: (tool: string, e: unknown) => void;
  /** Awaited after each tool call and resource read, before the result is sent (audit). */
  onToolCall?: (call: ToolCallEvent) => Promise<void> | void;
}): McpServer {
  const server = new McpServer(SERVER_INFO, {
    capabilities: { tools: { listChanged: false }, logging: {} },
    jsonSchemaValidator,
    instructions:
      'Veeva Vault for quality and regulatory teams. Every call acts as the signed-in user and is audited. ' +
      'Use the metadata_* tools to learn the document types, objects, fields and picklist values before building queries.',
  });
  const hooks = { onError: opts.onToolError, onCall: opts.onToolCall };
  registerTools(server, opts.tools, opts.scopes, hooks);
  opts.surface?.register(server, opts.scopes, hooks);
  return server;
}

/**
 * True when every message of a POST /mcp body is a `tools/list` or `tools/call` request. A server
 * built for such a body needs no resources, prompts or completions (only `initialize` announces
 * them, and only their own methods reach them), so the caller may leave the surface out:
 * registering it is most of createMcpServer's cost.
 *
 * @example
 * createMcpServer({ tools, scopes, surface: onlyToolRequests(req.body) ? undefined : surface });
 */
export function onlyToolRequests(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return (
    messages.length > 0 &&
    messages.every((m) => {
      const method = (m as { method?: unknown } | null)?.method;
      return method === 'tools/call' || method === 'tools/list';
    })
  );
}
