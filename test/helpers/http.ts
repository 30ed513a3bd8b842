/**
 * Raw HTTP helpers for auth tests: POST a JSON-RPC message to /mcp with a bearer token, parse a
 * WWW-Authenticate challenge.
 */
import assert from 'node:assert/strict';

export const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
};

export async function postMcp(
  url: string,
  headers: Record<string, string> = {},
  body: unknown = INIT,
): Promise<Response> {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

/** POST with `Authorization: Bearer <token>`. */
export function postWithToken(url: string, token: string, body: unknown = INIT): Promise<Response> {
  return postMcp(url, { authorization: `Bearer ${token}` }, body);
}

export function parseChallenge(h: string | null): Record<string, string> {
  assert.ok(h, 'WWW-Authenticate header present');
  assert.match(h, /^Bearer /);
  const out: Record<string, string> = {};
  for (const m of h.slice(7).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  return out;
}

/** Assert a 401 whose challenge and body carry exactly `description`. */
export async function assert401(res: Response, description: string | RegExp): Promise<void> {
  const body = (await res.json()) as { error?: string; error_description?: string };
  assert.equal(res.status, 401, `expected 401, got ${res.status}: ${JSON.stringify(body)}`);
  const c = parseChallenge(res.headers.get('www-authenticate'));
  assert.equal(c.error, 'invalid_token');
  if (typeof description === 'string') assert.equal(c.error_description, description);
  else assert.match(c.error_description!, description);
  assert.equal(body.error_description, c.error_description);
}
