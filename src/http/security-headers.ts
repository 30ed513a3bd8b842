/**
 * helmet's security headers, computed once. helmet sets the same static headers on every response
 * through a chain of a dozen small middlewares; it is run here once against a recorder and what it
 * set (and removed) is replayed on each response: the identical headers for a fraction of the cost
 * (issue 14). Valid for static options only: no directive may be a function of the request (nonces).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * @example
 * app.use(securityHeaders({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"] } } }));
 */
export function securityHeaders(opts: Readonly<HelmetOptions>) {
  const csp = opts.contentSecurityPolicy;
  const directives = csp && typeof csp === 'object' ? Object.values(csp.directives ?? {}) : [];
  if (directives.flat().some((v) => typeof v === 'function'))
    throw new Error('securityHeaders: a CSP directive computed per request cannot be precomputed; use helmet itself');
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => set.push([name, String(value)]),
    removeHeader: (name: string) => removed.push(name),
  };
  let ran = false;
  helmet(opts)({} as IncomingMessage, recorder as unknown as ServerResponse, () => {
    ran = true;
  });
  if (!ran) throw new Error('helmet did not finish synchronously: its options cannot be precomputed');
  return (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}
