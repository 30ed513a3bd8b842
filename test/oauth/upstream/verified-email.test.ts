/**
 * The email rule of every OIDC upstream: `email_verified` must be the boolean true. Entra ID (which
 * sends no `email_verified` for work accounts) may prove it with `xms_edov: true` instead, and only
 * Entra ID, and only when `email_verified` is absent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEntraIssuer, verifiedEmail } from '../../../src/oauth/upstream/oidc-provider.js';

const ok = (claims: Record<string, unknown>, entra = false) => verifiedEmail(claims, 'IdP', { entra });
const refused = (claims: Record<string, unknown>, entra = false) =>
  assert.throws(() => ok(claims, entra), { code: 'ERR_AUTH_EMAIL_UNVERIFIED' });

describe('verified email', () => {
  it('accepts only the boolean true, and lower-cases the address', () => {
    assert.equal(ok({ email: 'Ann@Acme.COM', email_verified: true }), 'ann@acme.com');
    for (const v of [false, 'true', 1, 'yes', null, undefined, {}]) refused({ email: 'a@acme.com', email_verified: v });
    refused({ email_verified: true });
    refused({ email: '', email_verified: true });
    refused({ email: ['a@acme.com'], email_verified: true });
  });

  it('checks ASCII before lower-casing: the Kelvin sign is refused, not folded into k', () => {
    for (const email of ['ann@merc\u212A.com', '\u212Aate@acme.com'])
      assert.throws(() => ok({ email, email_verified: true }), { code: 'ERR_TENANT_EMAIL_INVALID' });
    assert.throws(() => ok({ email: 'ann@merc\u212A.com', xms_edov: true }, true), {
      code: 'ERR_TENANT_EMAIL_INVALID',
    });
  });

  it('accepts xms_edov: true for Entra ID only, when email_verified is absent', () => {
    assert.equal(ok({ email: 'ann@acme.com', xms_edov: true }, true), 'ann@acme.com');
    refused({ email: 'ann@acme.com', xms_edov: true });
    refused({ email: 'ann@acme.com', xms_edov: 'true' }, true);
    refused({ email: 'ann@acme.com' }, true);
    // An explicit email_verified wins, also on Entra ID.
    refused({ email: 'ann@acme.com', email_verified: false, xms_edov: true }, true);
    assert.throws(() => ok({ email: 'ann@acme.com' }, true), /add the optional ID-token claims email and xms_edov/);
  });

  it('recognises Entra ID issuers by host', () => {
    assert.equal(isEntraIssuer('https://login.microsoftonline.com/3f2a…/v2.0'), true);
    assert.equal(isEntraIssuer('https://login.microsoftonline.com.evil.io/x/v2.0'), false);
    assert.equal(isEntraIssuer('https://acme.okta.com'), false);
    assert.equal(isEntraIssuer('not a url'), false);
  });
});
