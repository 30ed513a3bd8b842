/**
 * The pino logger. Redaction is configured here once, so nothing secret reaches a log line
 * whichever module logs it: Authorization headers, cookies, tokens, passwords, Vault session ids.
 *
 * @module
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths redacted in every log line (pino fast-redact syntax). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-vaultapi-sessionid"]',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.idToken',
  '*.id_token',
  '*.refreshToken',
  '*.password',
  '*.secret',
  '*.secretKey',
  '*.apiKey',
  '*.sessionId',
  '*.session_id',
  '*.sessionid',
  'token',
  'password',
  'sessionId',
];

/**
 * Create the process logger.
 *
 * @example
 * const log = createLogger({ level: 'info' });
 * log.info({ tenant: 'acme' }, 'tenant loaded');
 */
export function createLogger(opts: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'vault-mcp' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination as pino.DestinationStream | undefined,
  );
}
