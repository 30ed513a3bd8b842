/**
 * Prometheus over HTTP: a middleware counting requests by route and status, and the `GET /metrics`
 * handler. With `METRICS_TOKEN` set the endpoint needs `Authorization: Bearer <METRICS_TOKEN>`;
 * without it, only clients connecting from loopback are served (the socket address, not
 * X-Forwarded-For) and only with a loopback Host header (so a DNS-rebinding page in a local browser
 * cannot read them): metrics, which name tenants, are never public by accident.
 *
 * @module
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Metrics } from '../metrics/index.js';

const ROUTES = new Set([
  '/mcp',
  '/healthz',
  '/readyz',
  '/metrics',
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/mcp',
]);
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOST_RE = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;

/**
 * Count every response: `route` is one of our routes or `other` (unknown paths must not create series).
 *
 * @example
 * app.use(countRequests(metrics));
 */
export function countRequests(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.on('finish', () => {
      const path = req.originalUrl.split('?')[0] ?? '';
      const route = ROUTES.has(path) ? path : 'other';
      metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route, method: req.method }, (performance.now() - started) / 1000);
    });
    next();
  };
}

const sha = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics` in the Prometheus text format.
 *
 * @example
 * app.get('/metrics', serveMetrics(metrics, config.metrics.token));
 */
export function serveMetrics(metrics: Metrics, token: string | undefined) {
  const expected = token ? sha(token) : undefined;
  return async (req: Request, res: Response): Promise<void> => {
    if (expected) {
      const m = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m || !timingSafeEqual(sha(m[1]!), expected)) {
        res
          .set('WWW-Authenticate', 'Bearer realm="metrics"')
          .status(401)
          .json({ error: 'METRICS_TOKEN bearer token required' });
        return;
      }
    } else if (!LOOPBACK.has(req.socket.remoteAddress ?? '') || !LOOPBACK_HOST_RE.test(req.headers.host ?? '')) {
      res
        .status(403)
        .json({ error: '/metrics is served to loopback only; set METRICS_TOKEN to scrape from elsewhere' });
      return;
    }
    res.set('Content-Type', metrics.registry.contentType);
    res.set('Cache-Control', 'no-store');
    res.send(await metrics.registry.metrics());
  };
}
