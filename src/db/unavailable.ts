/**
 * Recognise "the database cannot be reached right now" (refused or dropped connections, a server
 * shutting down or starting up, connect timeouts) so callers can answer ERR_DB_UNAVAILABLE (503,
 * retry) instead of a generic 500. Duck-typed on the driver's `code` and messages: no `pg` import.
 *
 * @module
 */
import { AppError } from '../errors/index.js';

/** Socket errors and SQLSTATE classes 08 (connection exception) and 57P (operator intervention). */
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03']);
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed/;

/**
 * The database-unavailable error for `e`, or undefined when `e` is something else.
 *
 * @example
 * catch (e) { throw dbUnavailable(e) ?? e; }
 */
export function dbUnavailable(e: unknown): AppError | undefined {
  if (!e || typeof e !== 'object' || e instanceof AppError) return undefined;
  const { code, message } = e as { code?: unknown; message?: unknown };
  const byCode = typeof code === 'string' && (CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code));
  if (!byCode && !(typeof message === 'string' && MESSAGES.test(message))) return undefined;
  return new AppError('ERR_DB_UNAVAILABLE', 'The database is unavailable; retry shortly', {}, { cause: e });
}
