/**
 * Start the HTTP server and stop it gracefully: stop accepting, let in-flight requests finish (up to
 * a deadline), then cut idle keep-alive connections.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

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
export async function listen(handler: RequestListener, opts: { port: number; host: string }): Promise<HttpHandle> {
  const server = createServer(handler);
  server.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
  server.headersTimeout = 66_000;
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
