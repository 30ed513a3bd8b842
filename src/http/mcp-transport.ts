/**
 * Serves one POST /mcp on the per-request McpServer. The common case — one JSON-RPC request, headers
 * as the spec requires — is answered through a minimal in-process transport, without the SDK's
 * streamable-HTTP transport, whose Node → Web-standard bridge (a Request, Headers, a Response and a
 * new request listener per call) was the largest single cost of a request. Everything else (batches,
 * notifications and responses from the client, a wrong Accept or Content-Type, an unsupported
 * protocol version, anything the SDK would refuse) goes through the SDK's transport unchanged, so
 * error answers stay exactly the SDK's. The fast path replicates the SDK's JSON-response mode
 * byte for byte (status 200, `Content-Type: application/json`, `JSON.stringify` of the response);
 * `test/http/mcp-transport.test.ts` compares both paths on every method and scope set.
 *
 * @module
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializeRequest,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';

/**
 * Answer the request with `server` (built for this request; closed when the response closes).
 *
 * @example
 * await serveMcpPost(req, res, createMcpServer({ tools, scopes }), toAuthInfo(ctx));
 */
export async function serveMcpPost(
  req: Request,
  res: Response,
  server: McpServer,
  authInfo: AuthInfo,
  opts: { fastPath?: boolean; stream?: boolean } = {},
): Promise<void> {
  // stream: the client asked for progress, which only an SSE answer (the SDK's transport) can carry.
  const message = opts.fastPath === false || opts.stream ? undefined : singleRequest(req);
  if (!message) return viaSdkTransport(req, res, server, authInfo, !opts.stream);

  let respond!: (m: JSONRPCMessage) => void;
  const answered = new Promise<JSONRPCMessage>((resolve) => (respond = resolve));
  const transport = new OneRequestTransport(message.id, respond);
  // A client that goes away before the answer aborts the call in flight (extra.signal), as with the
  // SDK's transport. After the answer there is nothing left to abort: the server is simply dropped.
  let answeredYet = false;
  res.on('close', () => {
    if (!answeredYet) void server.close();
  });
  await server.connect(transport);
  transport.onmessage?.(message, { authInfo, requestInfo: requestInfo(req) });
  const response = await answered;
  answeredYet = true;
  // What the SDK's transport writes in JSON-response mode (stateless: no mcp-session-id).
  const body = JSON.stringify(response);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** The SDK's own transport (new per request, as its stateless example does). */
async function viaSdkTransport(
  req: Request,
  res: Response,
  server: McpServer,
  authInfo: AuthInfo,
  json: boolean,
): Promise<void> {
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  // The SDK reads authInfo from req.auth and hands it to tool handlers as extra.authInfo.
  (req as Request & { auth?: AuthInfo }).auth = authInfo;
  await transport.handleRequest(req, res, req.body);
}

type JsonRpcRequest = JSONRPCMessage & { id: string | number; method: string };

/**
 * The parsed message when the request is one JSON-RPC request the SDK would accept as is; otherwise
 * undefined (the SDK's transport then answers, errors included). Checks in the SDK's order: Accept,
 * Content-Type, body, message schema, protocol-version header (not for initialize).
 */
function singleRequest(req: Request): JsonRpcRequest | undefined {
  const accept = req.headers.accept;
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
  if (!isJsonContentType(req.headers['content-type'] ?? null)) return undefined;
  const body: unknown = req.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const parsed = JSONRPCMessageSchema.safeParse(body);
  // The union's members are strict: a parsed message with both `id` and `method` is a request.
  if (!parsed.success || !('id' in parsed.data && 'method' in parsed.data)) return undefined;
  const message = parsed.data as JsonRpcRequest;
  // Only a message whose method is `initialize` can be an initialize request (the SDK's full check then).
  if (!(message.method === 'initialize' && isInitializeRequest(message))) {
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version)))
      return undefined;
  }
  return message;
}

/**
 * What the SDK's transport hands handlers as `extra.requestInfo`: lower-case headers in name order, the
 * URL. Built on first read: no handler of ours reads it, and building it was ~1% of a request's CPU.
 */
function requestInfo(req: Request): { headers: Record<string, string>; url: URL } {
  let headers: Record<string, string> | undefined;
  let url: URL | undefined;
  return {
    get headers() {
      if (!headers) {
        headers = {};
        for (const name of Object.keys(req.headers).sort()) {
          const v = req.headers[name];
          if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : v;
        }
      }
      return headers;
    },
    get url() {
      return (url ??= new URL(req.originalUrl, `${req.protocol}://${req.headers.host ?? 'localhost'}`));
    },
  };
}

/**
 * A transport for exactly one request: the server's response to it resolves `respond`. As in the
 * SDK's JSON-response mode, notifications and server-to-client requests related to the call
 * (progress, logging) have no stream to go to and are dropped.
 */
class OneRequestTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private closed = false;

  constructor(
    private readonly id: string | number,
    private readonly respond: (m: JSONRPCMessage) => void,
  ) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    // A response (result or error) to our request; the server built it, so no schema check is needed.
    if ('id' in message && message.id === this.id && ('result' in message || 'error' in message)) this.respond(message);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.onclose?.();
    }
    return Promise.resolve();
  }
}
