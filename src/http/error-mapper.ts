/**
 * The one place where errors become HTTP responses. Auth failures get RFC 6750 `WWW-Authenticate`
 * challenges pointing at the RFC 9728 metadata; everything else gets a JSON-RPC error envelope with a
 * stable `data.code`. Unknown errors are logged and answered with a generic 500: no stack, no secret.
 *
 * @module
 */
import type { Response } from 'express';
import { dbUnavailable } from '../db/unavailable.js';
import { AppError, ERROR_CODES, isAppError } from '../errors/index.js';
import type { Logger } from '../log/index.js';

/** Quote a value for an auth-param (RFC 9110 quoted-string): escape `\` and `"`, drop control chars. */
function quoted(v: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return `"${v.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Build a Bearer challenge.
 *
 * @example
 * bearerChallenge({ resourceMetadata, error: 'invalid_token', description: 'The token has expired (exp)' })
 */
export function bearerChallenge(p: {
  resourceMetadata: string;
  error?: string;
  description?: string;
  scope?: string;
}): string {
  const parts = [`resource_metadata=${quoted(p.resourceMetadata)}`];
  if (p.error) parts.push(`error=${quoted(p.error)}`);
  if (p.description) parts.push(`error_description=${quoted(p.description)}`);
  if (p.scope) parts.push(`scope=${quoted(p.scope)}`);
  return `Bearer ${parts.join(', ')}`;
}

/**
 * Send `err` as the response.
 *
 * @example
 * sendError(res, e, { resourceMetadata, log: req.log });
 */
export function sendError(res: Response, err: unknown, opts: { resourceMetadata: string; log: Logger }): void {
  const e = isAppError(err) ? err : (dbUnavailable(err) ?? new AppError('ERR_INTERNAL', 'Internal server error'));
  if (e.code === 'ERR_INTERNAL') opts.log.error({ err }, 'unhandled error');
  else if (e.status >= 500)
    opts.log.warn({ code: e.code, msg: e.message, cause: (e.cause as Error | undefined)?.message }, 'request failed');
  if (res.headersSent) return;
  const info = ERROR_CODES[e.code];
  const oauth = 'oauth' in info ? info.oauth : undefined;
  if ((oauth && e.status === 401) || oauth === 'insufficient_scope') {
    res.set(
      'WWW-Authenticate',
      bearerChallenge({
        resourceMetadata: opts.resourceMetadata,
        error: oauth,
        description: e.message,
        scope: typeof e.details.scope === 'string' ? e.details.scope : undefined,
      }),
    );
  }
  if (typeof e.details.retryAfter === 'number') res.set('Retry-After', String(Math.ceil(e.details.retryAfter)));
  if (oauth) {
    res.status(e.status).json({ error: oauth, error_description: e.message, code: e.code });
    return;
  }
  res.status(e.status).json({
    jsonrpc: '2.0',
    id: null,
    error: { code: info.jsonRpc, message: e.message, data: { code: e.code, ...e.details } },
  });
}
