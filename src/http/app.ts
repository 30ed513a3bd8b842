/**
 * The Express application: the only module (with its siblings in `http/`) that knows Express.
 *
 * Routes: `POST /mcp` (stateless streamable HTTP; `GET`/`DELETE` answer 405), RFC 9728 metadata at
 * both well-known paths, `/healthz`, `/readyz`.
 *
 * @module
 */
import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import express, { type Request, type Response } from 'express';
import type { AuditWriter } from '../audit/index.js';
import type { TokenVerifier, UserContext } from '../auth/types.js';
import type { Config } from '../config/index.js';
import { AppError, AuthError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { withSubjectToken, type CallContext } from '../context/call-context.js';
import { toAuthInfo } from '../mcp/context.js';
import type { Tenant } from '../tenancy/tenant.js';
import { createMcpServer, onlyToolRequests } from '../mcp/server.js';
import { wantsProgress } from '../mcp/progress.js';
import type { McpSurface } from '../mcp/surface.js';
import { mayCall, scopesSupported, type ToolDef } from '../mcp/tool.js';
import { accessLog } from './access-log.js';
import { authenticate } from './authenticate.js';
import { closeIfUnread, fromBodyParserError } from './body.js';
import { mcpCors } from './cors.js';
import { createCallObserver } from './call-observer.js';
import { sendError } from './error-mapper.js';
import { createIntake } from './intake.js';
import { serveMcpPost } from './mcp-transport.js';
import { securityHeaders } from './security-headers.js';
import { countRequests, serveMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { OAuthServer } from '../oauth/server.js';
import { oauthRoutes } from './oauth-routes.js';

export interface AppDeps {
  config: Readonly<Config>;
  log: Logger;
  verifier: TokenVerifier;
  tools: readonly ToolDef[];
  /** Resources, prompts and completions beside the tools. */
  surface?: McpSurface;
  /** Issuers advertised in the RFC 9728 metadata. */
  authorizationServers: string[];
  /** Maps the verified user to a tenant; throws an AppError (403) when none. Required: no tenant, no /mcp. */
  resolveTenant: (user: UserContext) => Promise<Tenant | undefined>;
  /** Readiness probe: DB reachable and migrated. */
  readiness: () => Promise<{ ready: boolean; detail?: Record<string, unknown> }>;
  /** Tool calls and refusals with a known tenant are recorded here (awaited before responding). */
  audit?: AuditWriter;
  /** Prometheus series; GET /metrics is served when given. */
  metrics?: Metrics;
  /** Per-tenant limit on POST /mcp, applied after tenant resolution; every message of a batch counts. */
  rateLimiter?: RateLimiter;
  /** The authorization server (OAUTH_SERVER_ENABLED): its routes are mounted when given. */
  oauth?: OAuthServer;
  /** Our own tokens: the upstream token kept with the grant, the `oauth` Vault mode's subject token. */
  subjectTokenFor?: (user: UserContext) => Promise<string | undefined>;
  /** false: every POST /mcp goes through the SDK's transport (the fast path's reference, in tests). */
  mcpFastPath?: boolean;
}

/**
 * @example
 * const app = createApp({ config, log, verifier, tools, authorizationServers: [issuer], readiness });
 */
export function createApp(deps: AppDeps): express.Express {
  const { config, log } = deps;
  const resourceMetadata = getOAuthProtectedResourceMetadataUrl(new URL(config.resource));
  const scopes = scopesSupported(deps.tools);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(config.trustProxy));

  if (deps.metrics) app.use(countRequests(deps.metrics));
  // Probes first: platforms call them with the machine's IP or their own host name in Host
  // (Railway: healthcheck.railway.app), and they reveal nothing worth a DNS-rebinding attack.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      const r = await deps.readiness();
      res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not_ready', ...r.detail });
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'readiness check failed');
      res.status(503).json({ status: 'not_ready', reason: 'database unreachable' });
    }
  });
  // /metrics on this port only with METRICS_TOKEN (else 404; METRICS_PORT serves loopback): scrapers use the IP.
  if (deps.metrics && config.metrics.token) app.get('/metrics', serveMetrics(deps.metrics, config.metrics.token));
  // DNS-rebinding protection: only our own host names are accepted in the Host header.
  app.use(hostHeaderValidation(allowedHosts(config)));
  app.use(
    securityHeaders({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }),
  );
  app.use(accessLog(log, { ignore: (path) => path === '/healthz' || path === '/readyz' || path === '/metrics' }));

  const fail = (req: Request, res: Response, e: unknown) => {
    closeIfUnread(req, res);
    sendError(res, e, { resourceMetadata, log: req.log });
  };
  const observer = createCallObserver({ audit: deps.audit, metrics: deps.metrics, log });

  const metadata = (_req: Request, res: Response) => {
    res.set('Access-Control-Allow-Origin', '*');
    res.set('Cache-Control', 'public, max-age=300');
    res.json({
      resource: config.resource,
      authorization_servers: deps.authorizationServers,
      scopes_supported: scopes,
      bearer_methods_supported: ['header'],
      resource_name: 'vault-mcp (Veeva Vault)',
    });
  };
  app.get('/.well-known/oauth-protected-resource', metadata);
  app.get('/.well-known/oauth-protected-resource/mcp', metadata);

  if (deps.oauth)
    app.use(oauthRoutes(deps.oauth, { publicUrl: config.publicUrl, dcrPerHour: deps.oauth.config.dcr.perHour }));

  app.use('/mcp', mcpCors);

  const notAllowed = (req: Request, res: Response) => {
    res.set('Allow', 'POST');
    fail(
      req,
      res,
      new AppError(
        'ERR_METHOD_NOT_ALLOWED',
        `${req.method} /mcp is not supported: this server is stateless (no SSE stream, no session to delete); use POST`,
      ),
    );
  };
  app.get('/mcp', notAllowed);
  app.delete('/mcp', notAllowed);

  // The body is read only after the token is verified and the tenant charged (intake.ts).
  const intake = createIntake({
    rateLimiter: deps.rateLimiter,
    limits: { limitBytes: config.httpEdge.bodyLimitBytes, timeoutMs: config.httpEdge.bodyTimeoutMs },
  });
  app.post('/mcp', async (req, res) => {
    const requestId = req.id;
    const known: Partial<CallContext> = { requestId };
    try {
      const { user, token } = await authenticate(req, deps.verifier);
      known.user = user;
      const tenant = (known.tenant = await deps.resolveTenant(user));
      if (!tenant) throw new AppError('ERR_TENANT_UNKNOWN_DOMAIN', 'No tenant is configured for this user');
      const bindings = { tenant: tenant.id, sub: user.subject };
      // In the request's log line, and in req.log from here on (made on first use).
      res.locals.logBindings = bindings;
      req.body = await intake.admit(req, tenant.id);
      const refusal = scopeRefusal(req.body, deps.tools, user.scopes);
      if (refusal && config.stepUpMode === 'tool_error' && !Array.isArray(req.body)) {
        // For clients that cannot step up on a 403 (they hang): the same refusal as a tool error.
        await observer.onRefused(known, refusal.error, refusal.tool, req.log);
        res.status(200).json({
          jsonrpc: '2.0',
          id: (req.body as { id?: unknown }).id ?? null,
          result: { isError: true, content: [{ type: 'text', text: stepUpText(refusal, user.scopes) }] },
        });
        return;
      }
      if (refusal) throw refusal.error;
      // The raw token stays only where oauth-mode Vault tenants need it for a token exchange (see context.ts).
      // For our own tokens that is the upstream token kept with the grant, never our token itself.
      const base: CallContext = { user, tenant, requestId };
      const subject =
        user.grantId === undefined
          ? token
          : tenant.vault.auth.mode === 'oauth'
            ? await deps.subjectTokenFor?.(user)
            : undefined;
      const ctx = subject === undefined ? base : withSubjectToken(base, subject);
      const server = createMcpServer({
        tools: deps.tools,
        scopes: user.scopes,
        surface: onlyToolRequests(req.body) ? undefined : deps.surface,
        onToolError: (tool, e) => req.log.warn({ tool, code: (e as AppError).code ?? 'ERR_INTERNAL' }, 'tool failed'),
        onToolCall: (call) => observer.onToolCall(ctx, call),
      });
      // The context reaches tool handlers as extra.authInfo. JSON answers unless the client asked for
      // progress: notifications only travel on an SSE stream.
      await serveMcpPost(req, res, server, toAuthInfo(ctx), {
        fastPath: deps.mcpFastPath,
        stream: wantsProgress(req.body),
      });
    } catch (e) {
      await observer.onRefused(known, e, calledTool(req.body), req.log);
      fail(req, res, e);
    }
  });

  app.use((req: Request, res: Response) =>
    fail(req, res, new AppError('ERR_NOT_FOUND', `No route for ${req.method} ${req.path}`)),
  );
  // Express 5 error handler (body parsers of other routers): client faults stay 4xx, without a stack.
  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: unknown) =>
    fail(req, res, fromBodyParserError(err) ?? err),
  );
  return app;
}

/**
 * Step-up: a `tools/call` for a tool the caller lacks scopes for is answered HTTP 403 with
 * `insufficient_scope` and the scopes needed (MCP authorization spec, scope challenge).
 */
function scopeRefusal(
  body: unknown,
  tools: readonly ToolDef[],
  scopes: readonly string[],
): { tool: string; missing: string[]; error: AuthError } | undefined {
  for (const msg of Array.isArray(body) ? body : [body]) {
    const m = msg as { method?: unknown; params?: { name?: unknown } } | null;
    if (m?.method !== 'tools/call' || typeof m.params?.name !== 'string') continue;
    const tool = tools.find((t) => t.name === m.params!.name);
    if (tool && !mayCall(tool, scopes)) {
      const needed = [...new Set([...scopes, ...tool.scopes])].join(' ');
      const error = new AuthError(
        'ERR_AUTH_INSUFFICIENT_SCOPE',
        `The tool '${tool.name}' needs the scope(s) ${tool.scopes.join(' ')}`,
        { scope: needed },
      );
      return { tool: tool.name, missing: tool.scopes.filter((s) => !scopes.includes(s)), error };
    }
  }
  return undefined;
}

/** STEP_UP_MODE=tool_error: what a client that cannot re-authorize by itself shows the user. */
function stepUpText(r: { tool: string; missing: string[] }, granted: readonly string[]): string {
  const missing = r.missing.join(' ');
  return (
    `ERR_AUTH_INSUFFICIENT_SCOPE: The tool '${r.tool}' needs the scope ${missing}, which this connection was not ` +
    `granted (granted: ${granted.join(' ') || 'none'}). Sign in again and allow ${missing}: in mcp-remote, delete ` +
    `~/.mcp-auth and reconnect, or upgrade to mcp-remote 0.15 or newer, which asks for it by itself.`
  );
}

/** The tool a `tools/call` body names (first one in a batch), for auditing a refusal. */
function calledTool(body: unknown): string | undefined {
  const m = (Array.isArray(body) ? body : [body]).find(
    (x) => (x as { method?: unknown } | null)?.method === 'tools/call',
  ) as { params?: { name?: unknown } } | undefined;
  return typeof m?.params?.name === 'string' ? m.params.name.slice(0, 128) : undefined;
}

function allowedHosts(config: Readonly<Config>): string[] {
  const hosts = new Set([
    'localhost',
    '127.0.0.1',
    '[::1]',
    new URL(config.publicUrl).hostname,
    ...config.allowedHosts,
  ]);
  if (!['0.0.0.0', '::', '127.0.0.1', 'localhost', '::1'].includes(config.host)) hosts.add(config.host);
  return [...hosts];
}

function parseTrustProxy(v: string): boolean | number | string {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}
