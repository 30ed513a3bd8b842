/**
 * The key per-address limits count under (the OAuth endpoints' rate limit, the connection cap). An
 * IPv6 client usually holds a whole /64 (SLAAC, privacy addresses), so keying on the full address
 * would give it 2^64 separate budgets: IPv6 addresses are keyed by their /64 prefix, IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`, a dual-stack socket's view of an IPv4 peer) by the IPv4 address.
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The eight 16-bit groups of a valid IPv6 address (zone id already removed). */
function ipv6Groups(ip: string): number[] {
  let s = ip.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const parse = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * @example
 * clientAddressKey('2001:db8:1:2:aaaa::1')  // '2001:db8:1:2::/64'
 * clientAddressKey('::ffff:192.0.2.7')      // '192.0.2.7'
 * clientAddressKey('192.0.2.7')             // '192.0.2.7'
 */
export function clientAddressKey(ip: string | undefined): string {
  if (!ip) return '';
  const bare = ip.replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return ip;
  const g = ipv6Groups(bare);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
