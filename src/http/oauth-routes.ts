/**
 * The authorization server's HTTP surface (the logic is in `src/oauth/server.ts`):
 * `/.well-known/oauth-authorization-server` (RFC 8414), `/authorize`, `/oauth/signin`, `/oauth/callback/<provider>`,
 * `/oauth/consent` (GET page, POST decision), `/oauth/token`, `/oauth/register` (the SDK's RFC 7591
 * handler over our client store), `/oauth/revoke` (RFC 7009), `/oauth/jwks`.
 *
 * The browser cookie (`vmcp_browser`, or `__Host-vmcp_browser` over https) is a random id that binds
 * each sign-in to the browser that started it: HttpOnly, SameSite=Lax (sent on the upstream's
 * top-level redirect back, never on cross-site POSTs), Secure over https.
 *
 * @module
 */
import { clientRegistrationHandler } from '@modelcontextprotocol/sdk/server/auth/handlers/register.js';
import express, { type Request, type Response } from 'express';
import type { OAuthServer, Outcome } from '../oauth/server.js';
import { randomToken } from '../oauth/util.js';
import { errorPage } from '../oauth/pages.js';
import { clientAddressKey } from './client-address.js';
import { createRateLimiter } from './rate-limit.js';

type Params = Record<string, unknown>;

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/**
 * @example
 * app.use(oauthRoutes(oauth, { publicUrl: config.publicUrl }));
 */
export function oauthRoutes(oauth: OAuthServer, opts: { publicUrl: string; dcrPerHour: number }): express.Router {
  const secure = opts.publicUrl.startsWith('https:');
  const cookieName = secure ? '__Host-vmcp_browser' : 'vmcp_browser';
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 });

  const browserOf = (req: Request): string | undefined => {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === cookieName) {
        const value = v.join('=');
        return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
      }
    }
    return undefined;
  };

  const send = (res: Response, o: Outcome, status302 = 302) => {
    res.set('Cache-Control', 'no-store');
    if (o.kind === 'redirect') return res.redirect(status302, o.location);
    res.set('Content-Security-Policy', PAGE_CSP);
    res.status(o.status).type('html').send(o.html);
  };

  const cors = (_req: Request, res: Response, next: () => void) => {
    // Token, revocation, metadata and JWKS carry no cookies: any origin may call them (browser clients).
    res.set('Access-Control-Allow-Origin', '*');
    res.set('Access-Control-Allow-Headers', 'authorization, content-type, mcp-protocol-version');
    res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    next();
  };

  // Per client IP (IPv6 per /64): sign-ins create rows and token requests hash and sign; neither may be flooded.
  const perMinute = oauth.config.rateLimitPerMinute;
  const limiter = perMinute
    ? createRateLimiter({ perMinute, burst: Math.max(10, Math.ceil(perMinute / 2)) })
    : undefined;
  const limit = (req: Request, res: Response, next: () => void) => {
    const wait = limiter?.take(`ip:${clientAddressKey(req.ip)}`);
    if (!wait) return next();
    res.set('Retry-After', String(Math.ceil(wait))).set('Cache-Control', 'no-store');
    const message = `Too many requests from this address; retry in ${Math.ceil(wait)} s`;
    if (/^\/oauth\/(token|revoke)/.test(req.originalUrl))
      res.status(429).json({ error: 'too_many_requests', error_description: message });
    else
      res
        .status(429)
        .set('Content-Security-Policy', PAGE_CSP)
        .type('html')
        .send(errorPage('Too many requests', message, 'ERR_RATE_LIMITED'));
  };
  router.use(
    ['/authorize', '/oauth/signin', '/oauth/callback', '/oauth/consent', '/oauth/token', '/oauth/revoke'],
    limit,
  );

  const basicAuth = (req: Request): { id: string; secret: string } | undefined => {
    const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const raw = Buffer.from(m[1]!, 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i < 0) return undefined;
    try {
      return { id: decodeURIComponent(raw.slice(0, i)), secret: decodeURIComponent(raw.slice(i + 1)) };
    } catch {
      return undefined;
    }
  };

  router.options(
    ['/.well-known/oauth-authorization-server', '/oauth/token', '/oauth/revoke', '/oauth/jwks'],
    cors,
    (_req, res) => {
      res.status(204).end();
    },
  );
  router.get('/.well-known/oauth-authorization-server', cors, (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(oauth.metadata());
  });
  router.get('/oauth/jwks', cors, async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json(await oauth.keys.jwks());
  });

  const authorize = async (req: Request, res: Response) => {
    let browser = browserOf(req);
    if (!browser) {
      browser = randomToken();
      res.cookie(cookieName, browser, { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: 24 * 3600 * 1000 });
    }
    send(res, await oauth.authorize((req.method === 'POST' ? req.body : req.query) as Params, browser));
  };
  router.get('/authorize', authorize);
  router.post('/authorize', form, authorize);
  router.get('/oauth/signin', async (req, res) => send(res, await oauth.signIn(req.query as Params, browserOf(req))));
  // One callback path per upstream (`callbackPath` in src/oauth/upstream/callback.ts); the shared
  // /oauth/callback is only answered with a refusal naming the URL to register.
  const callback = (arrivedFor: (req: Request) => string | undefined) => async (req: Request, res: Response) =>
    send(res, await oauth.callback(new URL(req.originalUrl, opts.publicUrl), browserOf(req), arrivedFor(req)));
  router.get(
    '/oauth/callback',
    callback(() => undefined),
  );
  router.get(
    '/oauth/callback/tenant/:tenant',
    callback((req) => `tenant:${String(req.params.tenant)}`),
  );
  router.get(
    '/oauth/callback/:provider',
    callback((req) => String(req.params.provider)),
  );
  router.get('/oauth/consent', async (req, res) =>
    send(res, await oauth.showConsent(req.query as Params, browserOf(req))),
  );
  router.post('/oauth/consent', form, async (req, res) =>
    send(res, await oauth.decide((req.body ?? {}) as Params, browserOf(req)), 303),
  );

  router.post('/oauth/token', cors, form, async (req, res) => {
    const r = await oauth.token((req.body ?? {}) as Params, basicAuth(req));
    res
      .set({ 'Cache-Control': 'no-store', ...r.headers })
      .status(r.status)
      .json(r.body);
  });
  router.post('/oauth/revoke', cors, form, async (req, res) => {
    const r = await oauth.revoke((req.body ?? {}) as Params, basicAuth(req));
    res
      .set({ 'Cache-Control': 'no-store', ...r.headers })
      .status(r.status)
      .json(r.body);
  });
  if (oauth.config.dcr.enabled)
    router.use(
      '/oauth/register',
      clientRegistrationHandler({
        clientsStore: oauth.clients,
        clientSecretExpirySeconds: 0,
        rateLimit: opts.dcrPerHour ? { windowMs: 3600_000, max: opts.dcrPerHour, limit: opts.dcrPerHour } : false,
      }),
    );
  return router;
}
