/**
 * Redirect URIs: what a client may register, and how a requested one matches a registered one.
 * Matching is exact (string equality), except loopback `http` redirects, whose port may differ
 * (RFC 8252 §7.3: native apps take an ephemeral port) — the SDK's `redirectUriMatches`.
 *
 * @module
 */
import { redirectUriMatches } from '@modelcontextprotocol/sdk/server/auth/handlers/authorize.js';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** Schemes that would run code or read files in the browser instead of reaching a client. */
const FORBIDDEN_SCHEMES = new Set([
  'javascript',
  'data',
  'vbscript',
  'file',
  'blob',
  'about',
  'filesystem',
  'ws',
  'wss',
]);

/**
 * Why `uri` cannot be registered, or undefined when it can: https anywhere; http only on a loopback
 * host; a private-use scheme (`com.example.app:/cb`, `cursor://…`) for native apps; never a fragment,
 * credentials, or a scheme that runs code.
 *
 * @example
 * redirectUriProblem('http://evil.example/cb') // 'http is allowed only for loopback hosts …'
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > 2000) return 'is longer than 2000 characters';
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (u.hash || uri.includes('#')) return 'must not contain a fragment (#)';
  if (u.username || u.password) return 'must not contain credentials';
  if (FORBIDDEN_SCHEMES.has(scheme)) return `uses the forbidden scheme ${scheme}:`;
  if (scheme === 'http' && !LOOPBACK.has(u.hostname))
    return 'uses http, which is allowed only for loopback hosts (127.0.0.1, [::1], localhost); use https';
  if (scheme === 'https' && !u.hostname) return 'has no host';
  return undefined;
}

/**
 * Does the requested redirect URI match one registered for the client?
 *
 * @example
 * redirectMatches('http://127.0.0.1:5555/cb', ['http://127.0.0.1/cb']) // true (loopback, any port)
 */
export function redirectMatches(requested: string, registered: readonly string[]): boolean {
  if (redirectUriProblem(requested)) return false;
  return registered.some((r) => redirectUriMatches(requested, r));
}
