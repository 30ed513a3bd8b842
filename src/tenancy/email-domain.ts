/**
 * The domain of a verified email address, parsed strictly: exactly one `@`, an ASCII LDH domain
 * (punycode `xn--` labels are fine, raw Unicode is refused so homoglyphs cannot pass), no trailing dot,
 * lower-cased. Anything else is refused rather than "repaired": a lenient parser is how `a.com@evil.io`
 * ends up in the wrong tenant.
 *
 * @module
 */
import { AppError } from '../errors/index.js';

const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * @example
 * emailDomain('Ann@Acme.COM'); // 'acme.com'
 */
export function emailDomain(email: string): string {
  const parts = email.split('@');
  const local = parts[0] ?? '';
  const domain = (parts[1] ?? '').toLowerCase();
  if (parts.length !== 2 || !local || !DOMAIN_RE.test(domain)) {
    throw new AppError(
      'ERR_TENANT_EMAIL_INVALID',
      `The email address in the token does not have a usable domain (${JSON.stringify(email.slice(email.lastIndexOf('@') + 1).slice(0, 80))}); expected one '@' and a plain ASCII domain`,
    );
  }
  return domain;
}
