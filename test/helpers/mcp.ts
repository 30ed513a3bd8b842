/**
 * A real MCP client (the SDK's) over streamable HTTP with a bearer token.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export async function connectClient(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'vault-mcp-tests', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

/** The JSON a tool returned as text content. */
export function toolJson(result: unknown): any {
  const r = result as { content?: { type: string; text?: string }[] };
  const text = r.content?.find((c) => c.type === 'text')?.text;
  if (text === undefined) throw new Error(`no text content in ${JSON.stringify(result)}`);
  return JSON.parse(text);
}

/** Connect with `token`, call `whoami`, close; returns the tool's JSON. */
export async function callWhoami(url: string, token: string): Promise<any> {
  const client = await connectClient(url, token);
  try {
    return toolJson(await client.callTool({ name: 'whoami', arguments: {} }));
  } finally {
    await client.close();
  }
}

/**
 * One raw JSON-RPC `tools/call` over HTTP (no initialize; the server is stateless): for tests that
 * need the HTTP status and error body of refused calls, or many calls quickly.
 */
export async function postToolCall(
  url: string,
  token: string,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{
  status: number;
  body: {
    result?: { structuredContent?: Record<string, any>; isError?: boolean };
    error?: { message: string; data?: { code: string } };
  };
}> {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  return { status: res.status, body: (await res.json()) as any };
}
