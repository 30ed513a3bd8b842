/**
 * Public (webmail) email domains. Anyone can get an address there, so such a domain must never map an
 * organisation's tenant: PUBLIC_EMAIL_DOMAINS_POLICY decides (refuse, or one private tenant per user),
 * and provisioning refuses to attach these domains to a tenant. PUBLIC_EMAIL_DOMAINS replaces the list.
 *
 * Public suffixes (`co.uk`, `github.io`: names under which anyone can register) come from the Public
 * Suffix List, ICANN and private sections both, through the maintained `tldts` package.
 *
 * @module
 */
import { getPublicSuffix } from 'tldts';

/** The built-in list: the large consumer mail providers. */
export const DEFAULT_PUBLIC_EMAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'googlemail.com',
  'outlook.com',
  'hotmail.com',
  'hotmail.co.uk',
  'live.com',
  'msn.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'yahoo.de',
  'ymail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'pm.me',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'web.de',
  'mail.com',
  'yandex.com',
  'yandex.ru',
  'mail.ru',
  'zoho.com',
  'fastmail.com',
  'hey.com',
  'tutanota.com',
  'tuta.io',
  'qq.com',
  '163.com',
  '126.com',
  'naver.com',
  'orange.fr',
  'free.fr',
  'libero.it',
  't-online.de',
];

/**
 * True when `domain` or one of its parents is in `list` (mail.gmail.com counts as gmail.com).
 *
 * @example
 * isPublicDomain('gmail.com', new Set(DEFAULT_PUBLIC_EMAIL_DOMAINS)); // true
 */
export function isPublicDomain(domain: string, list: ReadonlySet<string>): boolean {
  return domainSuffixes(domain).some((d) => list.has(d));
}

/**
 * `a.b.c.com` → `['a.b.c.com', 'b.c.com', 'c.com']`: the domain and its parents of two labels or more.
 *
 * @example
 * domainSuffixes('eu.acme.com'); // ['eu.acme.com', 'acme.com']
 */
export function domainSuffixes(domain: string): string[] {
  const labels = domain.split('.');
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) out.push(labels.slice(i).join('.'));
  return out;
}

/**
 * True when `domain` is itself a public suffix (`co.uk`, `com`, `github.io`): no organisation owns it,
 * so no tenant may claim it. Unknown TLDs (`acme.internal`) follow the list's default rule `*`.
 *
 * @example
 * isPublicSuffix('co.uk');      // true
 * isPublicSuffix('acme.co.uk'); // false
 */
export function isPublicSuffix(domain: string): boolean {
  return getPublicSuffix(domain, { allowPrivateDomains: true }) === domain;
}
