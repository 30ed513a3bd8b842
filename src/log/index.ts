/**
 * The pino logger. Redaction is configured here once, so nothing secret reaches a log line
 * whichever module logs it: Authorization headers, cookies, tokens, passwords, Vault session ids.
 *
 * @module
 */
import { createRequire } from 'node:module';
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
 * Create the process logger: JSON lines (what log collectors read), or, when `pretty` is asked for
 * (development) and the output is a terminal, pino-pretty's readable lines. Redaction applies to both.
 *
 * @example
 * const log = createLogger({ level: 'info' });
 * log.info({ tenant: 'acme' }, 'tenant loaded');
 */
export function createLogger(opts: {
  level: string;
  /** A stream to write to; without it, lines go to `file` (default: stdout) through pino's async writer. */
  destination?: NodeJS.WritableStream;
  /** A path or file descriptor, when no `destination` stream is given (default 1, stdout). */
  file?: string | number;
  /** Pretty-print when the destination (default stdout) is a TTY; for development only. */
  pretty?: boolean;
}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'vault-mcp' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const out = opts.destination ?? process.stdout;
  const pretty = opts.pretty && (out as { isTTY?: boolean }).isTTY ? loadPretty() : undefined;
  if (pretty)
    return pino(
      options,
      pretty({
        destination: out,
        sync: true,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
      }),
    );
  if (opts.destination) return pino(options, opts.destination as pino.DestinationStream);
  // Asynchronous writes: lines logged while a write is in flight go out together in the next one,
  // instead of one write system call per line (issue 14: that was ~2% of a call's CPU). pino flushes
  // what is buffered when the process exits, on an error exit too.
  return pino(options, pino.destination({ dest: opts.file ?? 1, sync: false }));
}

type Pretty = (o: Record<string, unknown>) => pino.DestinationStream;

/**
 * pino-pretty is a dev dependency, loaded only when asked for: production installs (`npm ci --omit=dev`,
 * the image) do not have it and keep their JSON lines.
 */
function loadPretty(): Pretty | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as Pretty;
  } catch {
    return undefined;
  }
}
