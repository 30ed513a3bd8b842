/**
 * Request bodies of `POST /mcp`, read only once the caller is authenticated, within a deadline and a
 * size limit. Every client fault is a clear 4xx with a stable code, never a 500 with a stack trace:
 * a charset other than UTF-8 or an unknown `Content-Encoding` (415), a body over the limit before or
 * after decompression (413), corrupt compressed data, invalid UTF-8 or JSON (400), a body that does
 * not arrive in time (408). A refused request whose body was not read closes its connection, so a
 * client cannot keep it busy by trickling the rest.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Response } from 'express';
import { AppError } from '../errors/index.js';

export interface BodyLimits {
  /** Largest body, counted both as sent and after decompression. */
  limitBytes: number;
  /** The whole body must arrive within this many ms of the start of reading. */
  timeoutMs: number;
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Refuse what we cannot decode before reading a byte: media type, charset, encoding, declared length. */
function checkHeaders(req: IncomingMessage, limits: BodyLimits): (() => Transform) | undefined {
  const [type = '', ...params] = (req.headers['content-type'] ?? '').split(';');
  if (type.trim().toLowerCase() !== 'application/json')
    throw new AppError(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json (got '${type.trim().slice(0, 100) || 'none'}')`,
    );
  for (const p of params) {
    const [k, v = ''] = p.split('=');
    if (k?.trim().toLowerCase() !== 'charset') continue;
    const charset = v.trim().replace(/^"|"$/g, '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      throw new AppError(
        'ERR_UNSUPPORTED_MEDIA_TYPE',
        `Unsupported charset '${charset.slice(0, 40)}': JSON bodies must be UTF-8`,
      );
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder = encoding === 'identity' ? undefined : DECODERS[encoding];
  if (encoding !== 'identity' && !decoder)
    throw new AppError(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `Unsupported Content-Encoding '${encoding.slice(0, 40)}': use gzip, deflate, br or none`,
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.limitBytes) throw tooLarge(limits);
  return decoder;
}

const tooLarge = (limits: BodyLimits) =>
  new AppError('ERR_PAYLOAD_TOO_LARGE', `The request body is larger than ${limits.limitBytes} bytes`, {
    limitBytes: limits.limitBytes,
  });

/**
 * Read and parse the JSON body of `req`.
 *
 * @example
 * req.body = await readJsonBody(req, { limitBytes: 1_048_576, timeoutMs: 10_000 });
 */
export function readJsonBody(req: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const decoder = checkHeaders(req, limits)?.();
  const encoding = req.headers['content-encoding'];
  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let decoded = 0;
    let done = false;
    const finish = (err: AppError | undefined, value?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onRaw);
      req.off('aborted', onAborted);
      req.off('error', onAborted);
      if (decoder) {
        req.unpipe(decoder);
        decoder.destroy();
      }
      if (err) {
        req.pause();
        reject(err);
      } else resolve(value);
    };
    const timer = setTimeout(
      () =>
        finish(
          new AppError(
            'ERR_REQUEST_TIMEOUT',
            `The request body did not arrive within ${limits.timeoutMs} ms (HTTP_BODY_TIMEOUT_MS)`,
            { timeoutMs: limits.timeoutMs },
          ),
        ),
      limits.timeoutMs,
    );
    const onRaw = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.limitBytes) finish(tooLarge(limits));
    };
    const onAborted = () => finish(new AppError('ERR_INVALID_BODY', 'The request body was cut off by the client'));
    const onDecoded = (chunk: Buffer) => {
      decoded += chunk.length;
      if (decoded > limits.limitBytes) finish(tooLarge(limits));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      if (done) return;
      const buf = Buffer.concat(chunks);
      let text: string;
      try {
        text = utf8.decode(buf);
      } catch {
        return finish(new AppError('ERR_INVALID_BODY', 'The request body is not valid UTF-8'));
      }
      if (!text.trim()) return finish(new AppError('ERR_INVALID_BODY', 'The request body is empty'));
      try {
        finish(undefined, JSON.parse(text));
      } catch {
        finish(new AppError('ERR_INVALID_BODY', 'The request body is not valid JSON'));
      }
    };
    req.on('data', onRaw);
    req.once('aborted', onAborted);
    req.once('error', onAborted);
    if (decoder) {
      decoder.on('data', onDecoded);
      decoder.once('end', onEnd);
      decoder.once('error', () =>
        finish(new AppError('ERR_INVALID_BODY', `The request body is not valid ${encoding} data (Content-Encoding)`)),
      );
      req.pipe(decoder);
    } else {
      req.on('data', onDecoded);
      req.once('end', onEnd);
    }
  });
}

/**
 * A response sent before the request body was read in full also closes the connection: otherwise
 * Node would keep reading (and discarding) the rest of the body for as long as the client trickles it.
 *
 * @example
 * closeIfUnread(req, res); // before sending an error
 */
export function closeIfUnread(req: IncomingMessage, res: Response): void {
  if (!req.complete && !res.headersSent) res.set('Connection', 'close');
}

/**
 * Errors of Express body parsers (other routers may use them): client faults keep their 4xx with our
 * codes and a clear message, instead of reaching the generic 500.
 *
 * @example
 * app.use((err, req, res, next) => fail(req, res, fromBodyParserError(err) ?? err));
 */
export function fromBodyParserError(err: Error & { status?: number; type?: string }): AppError | undefined {
  if (typeof err.status !== 'number' || err.status < 400 || err.status >= 500 || !err.type) return undefined;
  switch (err.type) {
    case 'entity.too.large':
      return new AppError('ERR_PAYLOAD_TOO_LARGE', 'The request body is too large');
    case 'charset.unsupported':
      return new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported charset: request bodies must be UTF-8');
    case 'encoding.unsupported':
      return new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Encoding: use gzip, deflate, br or none');
    case 'entity.parse.failed':
      return new AppError('ERR_INVALID_BODY', 'The request body could not be parsed');
    default:
      return new AppError('ERR_INVALID_BODY', 'The request body could not be read');
  }
}
