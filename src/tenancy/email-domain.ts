/**
 * Email addresses and domains, parsed strictly. What decides a tenant must never depend on Unicode
 * case folding, so the ASCII check comes BEFORE lower-casing: `'\u212A'.toLowerCase()` is ASCII `k`
 * (Kelvin sign), `'\u0130'.toLowerCase()` is `i̇`, and the long s, fullwidth letters and dotless i have
 * their own folding rules. A lenient parser is how `a.com@evil.io` or `ann@\u212Aacme.com` ends up
 * in the wrong tenant, so anything unusual is refused rather than "repaired":
 *
 * - exactly one `@`; a non-empty local part of printable ASCII (no SMTPUTF8 local parts);
 * - an ASCII LDH domain, lower-cased only after that check, no trailing dot;
 * - internationalised domains only in their ASCII form (`xn--` labels), and only when the label is
 *   valid IDNA (it round-trips through `domainToUnicode`/`domainToASCII` unchanged). A domain written
 *   in Unicode is refused, not converted: conversion (UTS #46 mapping) folds fullwidth and compatibility
 *   characters into ASCII, which is exactly the trap above.
 *
 * @module
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { AppError } from '../errors/index.js';

const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** The top-level label is alphabetic, or an IDN A-label (`xn--p1ai`). */
const TLD_RE = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
/** Printable ASCII except `@`, space and the characters no mail system accepts unquoted. */
const LOCAL_RE = /^[\x21-\x7e]{1,64}$/;

/**
 * Why `domain` (as given) is not a usable DNS domain, or undefined when it is. The input must already
 * be lower-case ASCII for it to pass: callers lower-case only after their own ASCII check.
 *
 * @example
 * domainProblem('acme.com');   // undefined
 * domainProblem('xn--a.com');  // 'the label "xn--a" is not valid IDNA (punycode)'
 */
export function domainProblem(domain: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- the ASCII range check is the point
  if (!/^[\x00-\x7f]*$/.test(domain))
    return 'it is not ASCII; write an internationalised domain in its xn-- (punycode) form';
  if (!DOMAIN_RE.test(domain) || !TLD_RE.test(domain.slice(domain.lastIndexOf('.') + 1)))
    return 'it is not a valid DNS domain (letters, digits and dashes in dot-separated labels)';
  for (const label of domain.split('.')) {
    if (label.slice(2, 4) === '--' && !label.startsWith('xn--'))
      return `the label "${label}" has "--" in positions 3-4, which is reserved for IDNA`;
    if (label.startsWith('xn--')) {
      const unicode = domainToUnicode(label);
      if (!unicode || unicode === label || domainToASCII(unicode) !== label)
        return `the label "${label}" is not valid IDNA (punycode)`;
    }
  }
  return undefined;
}

/**
 * Parse and normalise an email: the ASCII check first, then lower-case (local part too: addresses
 * are compared case-insensitively everywhere in vault-mcp). Throws ERR_TENANT_EMAIL_INVALID.
 *
 * @example
 * normalizeEmail('Ann@Acme.COM'); // { email: 'ann@acme.com', local: 'ann', domain: 'acme.com' }
 */
export function normalizeEmail(email: string): { email: string; local: string; domain: string } {
  const parts = email.split('@');
  const rawLocal = parts[0] ?? '';
  const rawDomain = parts[1] ?? '';
  const shown = JSON.stringify(email.slice(0, 120));
  const refuse = (why: string) => new AppError('ERR_TENANT_EMAIL_INVALID', `The email address ${shown} ${why}`);
  if (parts.length !== 2 || !rawLocal || !rawDomain) throw refuse("is not usable: expected exactly one '@'");
  if (!LOCAL_RE.test(rawLocal))
    throw refuse('has a local part (before the @) that is not plain printable ASCII, which is not accepted');
  const problem = domainProblem(asciiLower(rawDomain));
  if (problem) throw refuse(`does not have a usable domain: ${problem}`);
  const local = rawLocal.toLowerCase();
  const domain = rawDomain.toLowerCase();
  return { email: `${local}@${domain}`, local, domain };
}

/**
 * Lower-case `s` only when it is plain printable ASCII: lower-casing Unicode first would fold look-alikes
 * (the Kelvin sign U+212A becomes `k`) into a real domain before {@link domainProblem} can refuse them.
 *
 * @example
 * domainProblem(asciiLower(hd));
 */
export function asciiLower(s: string): string {
  return /^[\x21-\x7e]*$/.test(s) ? s.toLowerCase() : s;
}
