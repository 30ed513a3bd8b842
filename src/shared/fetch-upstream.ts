/**
 * The one way this server calls another service over HTTP (identity providers, token endpoints,
 * Vault): a timeout that covers the headers *and* the body, a bound on the body size, redirects
 * refused unless the caller asks otherwise, and one typed error, {@link UpstreamError}, that names
 * the upstream. The error never carries the URL's query, headers or body (they may hold tokens).
 *
 * @module
 */
import { AppError } from '../errors/index.js';

export type UpstreamFailure = 'timeout' | 'network' | 'too_large';

/**
 * An upstream did not answer in time, could not be reached, or sent a body over the size limit.
 * Code `ERR_UPSTREAM_UNAVAILABLE`; callers with a finer code (Vault) wrap it.
 *
 * @example
 * if (e instanceof UpstreamError && e.reason === 'timeout') metrics.inc({ status: 'timeout' });
 */
export class UpstreamError extends AppError {
  readonly upstream: string;
  readonly reason: UpstreamFailure;

  constructor(upstream: string, reason: UpstreamFailure, detail: string, options?: ErrorOptions) {
    super('ERR_UPSTREAM_UNAVAILABLE', `${upstream} ${detail}; try again shortly`, { upstream }, options);
    this.name = 'UpstreamError';
    this.upstream = upstream;
    this.reason = reason;
  }
}

export interface UpstreamRequest extends Omit<RequestInit, 'signal'> {
  /** Who is called, for errors and logs: "Google tokeninfo", "Vault acme.veevavault.com". Never a secret. */
  upstream: string;
  /** Budget for the whole exchange: connecting, headers and reading the body. */
  timeoutMs: number;
  /** Refuse bodies larger than this (default 1 MiB). */
  maxBytes?: number;
  fetch?: typeof fetch;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * `fetch` with the timeout and size limit applied; reading the returned body (`text()`, `json()`)
 * rejects with an {@link UpstreamError} when the time or size budget runs out. `redirect` defaults
 * to `'error'`.
 *
 * @example
 * const res = await fetchUpstream(url, { upstream: 'Google tokeninfo', timeoutMs: 5000, method: 'POST', body });
 * if (!res.ok) await res.body?.cancel();
 */
export async function fetchUpstream(url: string | URL, req: UpstreamRequest): Promise<Response> {
  const { upstream, timeoutMs, maxBytes = DEFAULT_MAX_BYTES, fetch: doFetch = fetch, ...init } = req;
  const fail = (e: unknown) =>
    isTimeout(e)
      ? new UpstreamError(upstream, 'timeout', `did not answer within ${timeoutMs} ms`, { cause: e })
      : new UpstreamError(upstream, 'network', 'could not be reached', { cause: e });
  let res: Response;
  try {
    res = await doFetch(url, { redirect: 'error', ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw fail(e);
  }
  if (!res.body || NULL_BODY.has(res.status)) return res;
  const tooLarge = () => new UpstreamError(upstream, 'too_large', `sent a response larger than ${maxBytes} bytes`);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let seen = 0;
  const guarded = new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) return c.close();
        seen += value.byteLength;
        if (seen > maxBytes) {
          await reader.cancel().catch(() => undefined);
          return c.error(tooLarge());
        }
        c.enqueue(value);
      } catch (e) {
        c.error(fail(e));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(guarded, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function isTimeout(e: unknown): boolean {
  const name = (e as Error | undefined)?.name;
  return name === 'TimeoutError' || (name === 'AbortError' && isTimeout((e as Error).cause));
}
