/**
 * Whether a JSON-RPC body asks for progress notifications (`params._meta.progressToken` on any
 * request): the stateless HTTP transport then answers with an SSE stream, the only way notifications
 * (progress, log lines) reach the client during a call.
 *
 * @module
 */

/** @example wantsProgress({ method: 'tools/call', params: { _meta: { progressToken: 1 } } }) // true */
export function wantsProgress(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((m) => {
    const meta = (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta;
    return typeof meta?.progressToken === 'string' || typeof meta?.progressToken === 'number';
  });
}
