/**
 * The request log: one line per request when its response finishes (or the client goes away), in
 * pino-http's shape (`req: { id, method, path, remoteAddress }`, `res: { statusCode }`, `responseTime`,
 * msg `request completed` / `request aborted`), plus what the route bound in `res.locals.logBindings`
 * (tenant, subject). Compact on purpose: no headers (they carry credentials), no query strings.
 *
 * It replaces pino-http, which built and serialised a child logger for every request; here `req.log`
 * is made only when something logs during the request (issue 14: the request log was a tenth of the
 * server's CPU per call).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/index.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id: the client's `X-Request-Id` when well-formed, else a new UUID. */
    id: string;
    /** A logger bound to this request (made on first use). */
    log: Logger;
  }
}

const REQUEST_ID_RE = /^[\w.-]{1,64}$/;

/**
 * @example
 * app.use(accessLog(log, { ignore: (path) => path === '/healthz' }));
 */
export function accessLog(log: Logger, opts: { ignore?: (path: string) => boolean } = {}) {
  return (req: IncomingMessage, res: ServerResponse & { locals?: Record<string, unknown> }, next: () => void): void => {
    const started = performance.now();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    const path = (req.url ?? '').split('?')[0] ?? '';
    const line = () => ({ id, method: req.method, path, remoteAddress: req.socket.remoteAddress });
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      // Made on first use, with what the route bound by then (tenant, subject).
      get: () => (child ??= log.child({ ...(res.locals?.logBindings as object | undefined), req: line() })),
      set: (l: Logger) => {
        child = l;
      },
    });
    if (!opts.ignore?.(path)) {
      const done = () => {
        res.off('close', done);
        res.off('finish', done);
        const status = res.statusCode;
        const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
        if (!log.isLevelEnabled(level)) return;
        log[level](
          {
            ...(res.locals?.logBindings as object | undefined),
            req: line(),
            res: { statusCode: status },
            responseTime: Math.round(performance.now() - started),
          },
          res.writableFinished ? 'request completed' : 'request aborted',
        );
      };
      res.once('finish', done);
      res.once('close', done);
    }
    next();
  };
}
