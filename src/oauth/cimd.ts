/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client whose
 * `client_id` is an https URL is described by the JSON document at that URL. Fetching a URL an
 * anonymous caller chose is an SSRF vector, so:
 * - https only, a path, no fragment, credentials, query or dot segments;
 * - the host is resolved here and EVERY address must be public (no private, loopback, link-local,
 *   CGNAT, multicast, documentation, NAT64/6to4 or IPv4-mapped private range); the connection then
 *   goes to that same address (the socket's `lookup` is pinned), so DNS rebinding between the check
 *   and the connect cannot happen; TLS still verifies the certificate for the host name;
 * - no redirects, a total time limit, a byte limit (streamed, not trusted from Content-Length);
 * - the document's `client_id` must equal the URL; only public clients (`none`) are accepted;
 * - cached for its Cache-Control max-age (capped), not at all with no-store.
 *
 * @module
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { request } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import { AppError } from '../errors/index.js';
import { redirectUriProblem } from './redirect-uris.js';

export interface CimdOptions {
  timeoutMs: number;
  maxBytes: number;
  cacheMaxSeconds: number;
  /** Test seam: DNS resolution (default: the system resolver, every address). */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** Test seam: an extra trusted CA for the test https server. */
  ca?: string | Buffer;
  /** Test seam: the address policy (default {@link isPublicAddress}). Production never sets it. */
  isAllowedAddress?: (ip: string) => boolean;
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/**
 * True for addresses on the public internet only.
 *
 * @example
 * isPublicAddress('169.254.169.254') // false (cloud metadata)
 */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !blocked.check(ip, 'ipv4');
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d or ::ffff:7f00:1) is judged by its IPv4 part. (Node's BlockList also
    // matches IPv4 against ::ffff:0:0/96 rules, so that range cannot simply be listed above.)
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(ip.replace(/^::/, '0::'));
    if (mapped) {
      const rest = mapped[1]!;
      if (isIP(rest) === 4) return isPublicAddress(rest);
      const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(rest);
      if (!m) return false;
      const hi = parseInt(m[1]!, 16);
      const lo = parseInt(m[2]!, 16);
      return isPublicAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    return !blocked.check(ip, 'ipv6');
  }
  return false;
}

/** Why this `client_id` cannot be a metadata document URL, or undefined. */
export function cimdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > 2000) return 'is longer than 2000 characters';
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:') return 'must use https';
  if (u.username || u.password) return 'must not contain credentials';
  if (clientId.includes('#')) return 'must not contain a fragment';
  if (u.search) return 'must not contain a query string';
  if (u.pathname === '/' || !u.pathname) return 'must contain a path';
  if (/\/\.\.?(\/|$)/.test(clientId.slice(u.origin.length))) return 'must not contain . or .. path segments';
  if (u.href !== clientId) return 'is not in canonical form';
  return undefined;
}

interface CacheEntry {
  value: Promise<OAuthClientInformationFull>;
  expires: number;
}

/**
 * @example
 * const cimd = createCimdResolver({ timeoutMs: 3000, maxBytes: 5120, cacheMaxSeconds: 3600 });
 * const client = await cimd.resolve('https://app.example.com/oauth/client.json');
 */
export function createCimdResolver(opts: CimdOptions) {
  const cache = new Map<string, CacheEntry>();
  const allowed = opts.isAllowedAddress ?? isPublicAddress;
  const resolveHost = opts.lookup ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true }));
  const fail = (url: string, why: string) =>
    new AppError('ERR_OAUTH_CLIENT_METADATA', `The client metadata document ${url.slice(0, 200)} ${why}`);

  async function fetchDocument(url: string): Promise<{ body: unknown; maxAge: number }> {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    let addrs: { address: string; family: number }[];
    try {
      addrs = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolveHost(host);
    } catch {
      throw fail(url, `could not be fetched: the host ${host} does not resolve`);
    }
    if (!addrs.length) throw fail(url, `could not be fetched: the host ${host} does not resolve`);
    const bad = addrs.find((a) => !allowed(a.address));
    if (bad) throw fail(url, `is refused: ${host} resolves to ${bad.address}, which is not a public internet address`);
    const pinned = addrs[0]!;

    return new Promise((resolve, reject) => {
      const req = request(
        {
          hostname: host,
          port: u.port || 443,
          path: u.pathname,
          method: 'GET',
          agent: false,
          ca: opts.ca,
          headers: { accept: 'application/json', 'user-agent': 'vault-mcp (client metadata)' },
          // Connect to the address we checked, not to whatever a second resolution would say.
          lookup: (_h, o, cb) => {
            const done = cb as (err: null, a: string | { address: string; family: number }[], f?: number) => void;
            if ((o as { all?: boolean }).all) done(null, [{ address: pinned.address, family: pinned.family }]);
            else done(null, pinned.address, pinned.family);
          },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return reject(fail(url, `could not be fetched: HTTP ${res.statusCode} (redirects are not followed)`));
          }
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > opts.maxBytes) {
            res.destroy();
            return reject(fail(url, `is larger than ${opts.maxBytes} bytes`));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > opts.maxBytes) {
              res.destroy();
              reject(fail(url, `is larger than ${opts.maxBytes} bytes`));
            } else chunks.push(c);
          });
          res.on('end', () => {
            clearTimeout(timer);
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(fail(url, 'is not valid JSON'));
            }
            resolve({ body, maxAge: cacheSeconds(res.headers['cache-control'], opts.cacheMaxSeconds) });
          });
          res.on('error', () => undefined);
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        reject(fail(url, `did not arrive within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(fail(url, `could not be fetched (${(e as NodeJS.ErrnoException).code ?? e.message})`));
      });
      req.end();
    });
  }

  async function load(url: string): Promise<{ client: OAuthClientInformationFull; maxAge: number }> {
    const { body, maxAge } = await fetchDocument(url);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw fail(url, 'is not a JSON object');
    const doc = body as Record<string, unknown>;
    if (doc.client_id !== url)
      throw fail(url, `names a different client_id (${String(doc.client_id).slice(0, 200)}); it must equal its URL`);
    if ('client_secret' in doc || 'client_secret_expires_at' in doc)
      throw fail(url, 'must not contain a client_secret');
    const method = doc.token_endpoint_auth_method ?? 'none';
    if (method !== 'none')
      throw fail(
        url,
        `uses token_endpoint_auth_method ${JSON.stringify(method).slice(0, 64)}; only public clients (none) are supported`,
      );
    const uris = doc.redirect_uris;
    if (!Array.isArray(uris) || !uris.length || uris.some((x) => typeof x !== 'string'))
      throw fail(url, 'has no redirect_uris');
    for (const r of uris as string[]) {
      const p = redirectUriProblem(r);
      if (p) throw fail(url, `has an invalid redirect URI ${r.slice(0, 200)}: it ${p}`);
    }
    const name = typeof doc.client_name === 'string' ? doc.client_name : undefined;
    return {
      client: {
        client_id: url,
        redirect_uris: uris as string[],
        client_name: name,
        client_uri: typeof doc.client_uri === 'string' ? doc.client_uri : undefined,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
      maxAge,
    };
  }

  return {
    /** The client the document at `url` describes; throws ERR_OAUTH_CLIENT_METADATA saying why not. */
    resolve(url: string): Promise<OAuthClientInformationFull> {
      const problem = cimdUrlProblem(url);
      if (problem) return Promise.reject(fail(url, `cannot be used: the client_id URL ${problem}`));
      const hit = cache.get(url);
      if (hit && hit.expires > Date.now()) return hit.value;
      if (cache.size > 1000) cache.clear();
      const entry: CacheEntry = { value: Promise.resolve(undefined as never), expires: Date.now() + 60_000 };
      entry.value = load(url).then(
        ({ client, maxAge }) => {
          entry.expires = Date.now() + maxAge * 1000;
          if (!maxAge) cache.delete(url);
          return client;
        },
        (e: unknown) => {
          cache.delete(url);
          throw e;
        },
      );
      cache.set(url, entry);
      return entry.value;
    },
  };
}

export type CimdResolver = ReturnType<typeof createCimdResolver>;

/** Seconds to cache for: `max-age` capped, 0 for no-store/no-cache, 5 min when silent. */
function cacheSeconds(header: string | undefined, cap: number): number {
  if (!header) return Math.min(300, cap);
  if (/no-store|no-cache/i.test(header)) return 0;
  const m = /max-age=(\d+)/i.exec(header);
  return Math.min(m ? Number(m[1]) : 300, cap);
}
