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
 * Private-use schemes of known MCP clients that predate RFC 8252's reverse-domain advice. Any other
 * private-use scheme must contain a dot (`com.example.app`, RFC 8252 §7.1): a bare word may name an OS
 * handler (`ms-settings`, `search-ms`, `tel`) that a redirect would launch.
 */
const KNOWN_CLIENT_SCHEMES = new Set(['cursor', 'vscode', 'vscode-insiders', 'claude', 'windsurf']);
/** Schemes or prefixes that launch OS handlers, never a client, even with a dot. */
const OS_HANDLER_SCHEMES = new Set(['search-ms', 'ftp', 'mailto', 'tel', 'sms', 'intent']);
const OS_HANDLER_PREFIXES = ['ms-', 'chrome'];

/** Is this a loopback http redirect (a native client on this machine, RFC 8252 §7.3)? */
export function isLoopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && LOOPBACK.has(u.hostname);
  } catch {
    return false;
  }
}

/**
 * Why `uri` cannot be registered, or undefined when it can: https anywhere; http only on a loopback
 * host; a reverse-domain private-use scheme (`com.example.app:/cb`) or a known MCP client's (`cursor://…`)
 * for native apps; never a fragment, credentials, a scheme that runs code or one that opens an OS handler.
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
  if (scheme !== 'http' && scheme !== 'https') {
    if (OS_HANDLER_SCHEMES.has(scheme) || OS_HANDLER_PREFIXES.some((p) => scheme.startsWith(p)))
      return `uses the scheme ${scheme}:, which opens an operating-system handler, not an application`;
    if (!scheme.includes('.') && !KNOWN_CLIENT_SCHEMES.has(scheme))
      return `uses the private-use scheme ${scheme}:, which must be reverse-domain (e.g. com.example.app:/callback, RFC 8252 §7.1) unless it is a known MCP client (${[...KNOWN_CLIENT_SCHEMES].join(', ')})`;
  }
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
