/**
 * A cap on concurrent connections per client address (`HTTP_MAX_CONNECTIONS_PER_CLIENT`): one client
 * cannot take every socket of the process, while other addresses still get in. The connection over
 * the cap is answered at once with a minimal `429` (no request is parsed) and closed.
 *
 * The address is the socket's peer: behind a reverse proxy or load balancer that is the proxy, so the
 * cap must be at least the proxy's connection pool (or 0 = off, limiting at the proxy instead).
 * IPv6 peers count per /64 prefix (see `clientAddressKey`).
 *
 * @module
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { clientAddressKey } from './client-address.js';

const REFUSED = Symbol('vault-mcp.refused');

function refusal(max: number): string {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: null,
    error: {
      code: -32000,
      message: `Too many concurrent connections from your address (at most ${max}, HTTP_MAX_CONNECTIONS_PER_CLIENT)`,
      data: { code: 'ERR_TOO_MANY_CONNECTIONS', retryAfter: 1 },
    },
  });
  return [
    'HTTP/1.1 429 Too Many Requests',
    'Content-Type: application/json',
    'Retry-After: 1',
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** IPv6 peers by /64, IPv4-mapped IPv6 as IPv4: one client cannot spread over its prefix's addresses. */
const clientKey = (s: Socket) => clientAddressKey(s.remoteAddress);

/**
 * Enforce the cap on `server` (no-op when `max` is 0). Returns the live counts, for tests and metrics.
 *
 * @example
 * limitConnectionsPerClient(server, 256, () => metrics.connectionsRefused.inc());
 */
export function limitConnectionsPerClient(server: Server, max: number, onRefused?: () => void): Map<string, number> {
  const open = new Map<string, number>();
  if (!max) return open;
  const response = refusal(max);
  // Before the HTTP layer's own listener: a refused socket never reaches the request parser's work.
  server.prependListener('connection', (socket: Socket) => {
    const key = clientKey(socket);
    const n = open.get(key) ?? 0;
    if (n >= max) {
      (socket as Socket & { [REFUSED]?: boolean })[REFUSED] = true;
      onRefused?.();
      socket.end(response, () => socket.destroy());
      return;
    }
    open.set(key, n + 1);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
  });
  return open;
}

/** True for a socket refused by the cap: requests parsed from it before it closed must not be served. */
export function isRefused(socket: Socket): boolean {
  return (socket as Socket & { [REFUSED]?: boolean })[REFUSED] === true;
}
