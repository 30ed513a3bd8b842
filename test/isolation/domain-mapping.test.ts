/**
 * Email domain → tenant attacks, through real HTTP with tokens from the dev issuer (TENANCY-NOTES A3.6).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import { postToolCall } from '../helpers/mcp.js';
import { startTestServer, writeTenantsFile, type TestServer } from '../helpers/server.js';
import { tenantInput } from '../helpers/tenants.js';

/** Call whoami with a token for `claims`; returns the HTTP status and the tenant or the error. */
async function whoamiAs(
  s: TestServer,
  claims: JWTPayload,
): Promise<{ status: number; tenant?: string; code?: string; message?: string }> {
  const { status, body } = await postToolCall(s.url, await s.token(claims), 'whoami');
  return {
    status,
    tenant: body.result?.structuredContent?.tenant,
    code: body.error?.data?.code,
    message: body.error?.message,
  };
}

describe('domain → tenant mapping attacks (real HTTP, dev issuer tokens)', () => {
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  before(async () => {
    file = await writeTenantsFile({
      tenants: [
        tenantInput('tenant-a', ['a.com']),
        tenantInput('corp', ['corp.com'], { includeSubdomains: true }),
        tenantInput('corp-eu', ['eu.corp.com']),
      ],
    });
    s = await startTestServer({ TENANTS_FILE: file.file });
  });
  after(async () => {
    await s?.close();
    await file?.remove();
  });

  it('maps an exact domain, case-insensitively', async () => {
    assert.equal((await whoamiAs(s, { email: 'ann@a.com' })).tenant, 'tenant-a');
    assert.equal((await whoamiAs(s, { email: 'Ann@A.COM' })).tenant, 'tenant-a');
  });

  for (const [email, why] of [
    ['ann@a.com.evil.io', 'a.com as a prefix'],
    ['ann@evil-a.com', 'a.com as a string suffix'],
    ['ann@evila.com', 'a.com as a string suffix without dash'],
    ['ann@sub.a.com', 'a sub-domain of a tenant without includeSubdomains'],
    ['ann@xn--a-com-xyz.com', 'punycode look-alike'],
  ] as const) {
    it(`refuses ${email} (${why}) with 403 naming the domain`, async () => {
      const r = await whoamiAs(s, { email });
      assert.equal(r.status, 403);
      assert.equal(r.code, 'ERR_TENANT_UNKNOWN_DOMAIN');
      assert.ok(r.message?.includes(`"${email.split('@')[1]!.toLowerCase()}"`), r.message);
    });
  }

  for (const [email, why] of [
    ['ann@a.com.', 'trailing dot'],
    ['ann@\u0430.com', 'Cyrillic homoglyph of a.com'],
    ['ann@b.com@a.com', 'two @'],
    ['ann@a.com@', 'trailing @'],
    ['a.com', 'no @'],
    ['@a.com', 'empty local part'],
    ['ann@a.com ', 'trailing space'],
    ['ann@a.com\u0000.evil.io', 'NUL'],
  ] as const) {
    it(`refuses ${JSON.stringify(email)} (${why}) as an unusable address`, async () => {
      const r = await whoamiAs(s, { email });
      assert.equal(r.status, 403);
      assert.equal(r.code, 'ERR_TENANT_EMAIL_INVALID');
    });
  }

  it('refuses unverified or missing emails', async () => {
    for (const email_verified of [false, 'false', undefined, 1, 'true', 'TRUE']) {
      const r = await whoamiAs(s, { email: 'ann@a.com', email_verified });
      assert.equal(r.status, 403, String(email_verified));
      assert.equal(r.code, 'ERR_AUTH_EMAIL_UNVERIFIED');
    }
    const none = await whoamiAs(s, { email: undefined });
    assert.equal(none.status, 403);
    assert.equal(none.code, 'ERR_TENANT_EMAIL_INVALID');
  });

  it('applies the sub-domain rule per tenant, the most specific domain winning', async () => {
    assert.equal((await whoamiAs(s, { email: 'x@corp.com' })).tenant, 'corp');
    assert.equal((await whoamiAs(s, { email: 'x@us.corp.com' })).tenant, 'corp');
    assert.equal((await whoamiAs(s, { email: 'x@deep.us.corp.com' })).tenant, 'corp');
    assert.equal((await whoamiAs(s, { email: 'x@eu.corp.com' })).tenant, 'corp-eu');
    // eu.corp.com did not opt in to sub-domains, so its children fall back to corp (which did).
    assert.equal((await whoamiAs(s, { email: 'x@lab.eu.corp.com' })).tenant, 'corp');
    assert.equal((await whoamiAs(s, { email: 'x@corp.com.evil.io' })).status, 403);
    assert.equal((await whoamiAs(s, { email: 'x@evilcorp.com' })).status, 403);
  });

  it('refuses public email domains by default', async () => {
    const r = await whoamiAs(s, { email: 'ann@gmail.com' });
    assert.equal(r.status, 403);
    assert.equal(r.code, 'ERR_TENANT_PUBLIC_DOMAIN');
    assert.match(r.message!, /"gmail\.com"/);
  });
});

describe('PUBLIC_EMAIL_DOMAINS_POLICY=personal', () => {
  let s: TestServer;
  let file: Awaited<ReturnType<typeof writeTenantsFile>>;
  before(async () => {
    file = await writeTenantsFile({ tenants: [tenantInput('template', ['template.com'])] });
    s = await startTestServer({
      TENANTS_FILE: file.file,
      PUBLIC_EMAIL_DOMAINS_POLICY: 'personal',
      PERSONAL_TENANT_TEMPLATE: 'template',
      PUBLIC_EMAIL_DOMAINS: 'gmail.com,example-mail.com',
    });
  });
  after(async () => {
    await s?.close();
    await file?.remove();
  });

  it('gives each public-domain user a private tenant of their own, stable across calls', async () => {
    const ann1 = await whoamiAs(s, { sub: 'ann', email: 'ann@gmail.com' });
    const ann2 = await whoamiAs(s, { sub: 'ann', email: 'Ann@Gmail.com' });
    const bob = await whoamiAs(s, { sub: 'bob', email: 'bob@gmail.com' });
    const cat = await whoamiAs(s, { sub: 'cat', email: 'cat@example-mail.com' });
    assert.match(ann1.tenant!, /^p-[0-9a-f]{24}$/);
    assert.equal(ann2.tenant, ann1.tenant);
    assert.notEqual(bob.tenant, ann1.tenant);
    assert.notEqual(cat.tenant, ann1.tenant);
    // Overriding the list replaces it: outlook.com is now just an unknown domain.
    assert.equal((await whoamiAs(s, { email: 'x@outlook.com' })).code, 'ERR_TENANT_UNKNOWN_DOMAIN');
    // Unverified public addresses never get a tenant.
    assert.equal(
      (await whoamiAs(s, { email: 'eve@gmail.com', email_verified: false })).code,
      'ERR_AUTH_EMAIL_UNVERIFIED',
    );
  });

  it('creates personal tenants once even under concurrent first requests', async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, () => whoamiAs(s, { sub: 'dan', email: 'dan@gmail.com' })));
    assert.equal(new Set(rs.map((r) => r.tenant)).size, 1, JSON.stringify(rs));
    assert.ok(rs.every((r) => r.status === 200));
  });
});
