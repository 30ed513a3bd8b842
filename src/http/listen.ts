/**
 * Start the HTTP server and stop it gracefully: stop accepting, let in-flight requests finish (up to
 * a deadline), then cut idle keep-alive connections.
 *
 * Slow clients are bounded: the headers must arrive within `headersTimeoutMs`, the whole request
 * within `requestTimeoutMs` (Node's requestTimeout; the body also has its own, shorter deadline once
 * authenticated, see body.ts), an idle keep-alive connection closes after `keepAliveTimeoutMs`, and
 * one client address holds at most `maxConnectionsPerClient` connections (connection-limit.ts).
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import { isRefused, limitConnectionsPerClient } from './connection-limit.js';

export interface ListenLimits {
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** 0 or unset: no cap. */
  maxConnectionsPerClient?: number;
  onConnectionRefused?: () => void;
}

export interface HttpHandle {
  url: string;
  server: Server;
  /** Stop accepting connections and wait for in-flight requests (at most `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/**
 * @example
 * const http = await listen(app, { port: 3000, host: '127.0.0.1' });
 * process.on('SIGTERM', () => http.close(10_000));
 */
export async function listen(
  handler: RequestListener,
  opts: { port: number; host: string } & ListenLimits,
): Promise<HttpHandle> {
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const server = createServer(
    {
      headersTimeout: Math.min(opts.headersTimeoutMs ?? 10_000, requestTimeout),
      requestTimeout,
      // Longer than common load-balancer idle timeouts (60 s), so the balancer closes first.
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 65_000,
      // How often Node checks the headers/request timeouts (default 30 s would make them imprecise).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(requestTimeout / 4)),
    },
    (req, res) => {
      if (isRefused(req.socket)) return void req.socket.destroy();
      handler(req, res);
    },
  );
  limitConnectionsPerClient(server, opts.maxConnectionsPerClient ?? 0, opts.onConnectionRefused);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host}:${port}`,
    server,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        // Keep-alive connections that finish their request after close() stay open until their
        // idle timeout; sweep them so the drain ends when the last in-flight request does.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        sweep.unref();
        server.close(() => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
