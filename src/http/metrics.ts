/**
 * Prometheus over HTTP: a middleware counting requests by route and status, and the `GET /metrics`
 * handler. Metrics name tenants, so they are never public by accident. They are served
 *
 * - on the main port only with `METRICS_TOKEN` set and presented (`Authorization: Bearer …`);
 *   without it the main port answers 404 for /metrics, even to loopback clients — a reverse proxy on
 *   the same host connects from loopback too, so the socket address proves nothing there;
 * - on `METRICS_PORT`, a second listener bound to 127.0.0.1 that serves nothing else, to loopback
 *   clients with a loopback Host header (a DNS-rebinding page in a local browser cannot read it).
 *
 * @module
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
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
  // The labelled series, looked up once per (route, method, status) instead of hashing a label object
  // on every response. Bounded: few routes, the methods Node's parser accepts, the status codes we send.
  const series = new Map<string, { count: () => void; observe: (seconds: number) => void }>();
  const seriesFor = (route: string, method: string, status: number) => {
    const key = `${route} ${method} ${status}`;
    let s = series.get(key);
    if (!s) {
      const counter = metrics.httpRequests.labels({ route, method, status: String(status) });
      const histogram = metrics.httpDuration.labels({ route, method });
      s = { count: () => counter.inc(), observe: (seconds) => histogram.observe(seconds) };
      if (series.size < 1000) series.set(key, s);
    }
    return s;
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.on('finish', () => {
      const path = req.originalUrl.split('?')[0] ?? '';
      const s = seriesFor(ROUTES.has(path) ? path : 'other', req.method, res.statusCode);
      s.count();
      s.observe((performance.now() - started) / 1000);
    });
    next();
  };
}

const sha = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics` in the Prometheus text format: with a token, to bearers of it; without, to loopback
 * clients naming a loopback host (for the METRICS_PORT listener, see {@link createMetricsApp}).
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

/**
 * The METRICS_PORT listener's app: `GET /metrics` and nothing else. Bind it to 127.0.0.1.
 *
 * @example
 * await listen(createMetricsApp(metrics), { port: config.httpEdge.metricsPort, host: '127.0.0.1' });
 */
export function createMetricsApp(metrics: Metrics): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', serveMetrics(metrics, undefined));
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'This port serves GET /metrics only' });
  });
  return app;
}
