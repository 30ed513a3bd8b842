/**
 * CORS for browser-based MCP clients (e.g. the MCP Inspector). Safe to open to any origin because
 * the server uses no ambient credentials: every request carries its bearer token explicitly, cookies
 * are never read, and `Access-Control-Allow-Credentials` is never sent. `WWW-Authenticate` is exposed
 * so browser clients can discover the resource metadata and react to step-up challenges.
 *
 * @module
 */
import type { NextFunction, Request, Response } from 'express';

/**
 * @example
 * app.use('/mcp', mcpCors);
 */
export function mcpCors(req: Request, res: Response, next: NextFunction): void {
  res.set('Access-Control-Allow-Origin', '*');
  res.set('Access-Control-Expose-Headers', 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, X-Request-Id');
  if (req.method !== 'OPTIONS') return next();
  res.set('Access-Control-Allow-Methods', 'POST, GET, DELETE');
  res.set(
    'Access-Control-Allow-Headers',
    'Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID',
  );
  res.set('Access-Control-Max-Age', '600');
  res.status(204).end();
}
