/**
 * A port somebody else holds is answered with one line naming the port and the variable that moves it,
 * not with a stack trace.
 *
 * @module
 */
import { createServer } from 'node:net';

/** `port` is taken; `variable` is the setting that chooses another one. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly variable: string,
    host = '127.0.0.1',
  ) {
    super(
      `port ${port} on ${host} is already in use (${variable}): stop the process holding it or set ${variable} to a free port`,
    );
    this.name = 'PortInUseError';
  }
}

/**
 * `e` as a {@link PortInUseError} when it is an EADDRINUSE from binding `port`, else `e` unchanged.
 *
 * @example
 * await start(config).catch((e: unknown) => { throw asPortInUse(e, config.port, 'PORT'); });
 */
export function asPortInUse(e: unknown, port: number, variable: string, host?: string): unknown {
  const err = e as { code?: string; port?: number };
  // Node names the port it could not bind: another listener's failure is not this variable's.
  return err.code === 'EADDRINUSE' && (err.port === undefined || err.port === port)
    ? new PortInUseError(port, variable, host)
    : e;
}

/**
 * Throws a {@link PortInUseError} when `port` cannot be bound on `host` right now (for servers we do not
 * bind ourselves, such as Postgres, or to check every port before starting anything). Port 0 always passes.
 */
export async function assertPortFree(port: number, variable: string, host = '127.0.0.1'): Promise<void> {
  if (port === 0) return;
  const srv = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ port, host, exclusive: true }, resolve);
    });
  } catch (e) {
    throw asPortInUse(e, port, variable, host);
  }
  await new Promise<void>((resolve) => srv.close(() => resolve()));
}
