/**
 * The Vault client against Veeva's documented behaviour, with a scripted Vault (a fetch fake that
 * answers like developer.veevavault.com documents): a login's home Vault, the per-minute auth limit,
 * absolute next_page URLs and document links on an internal host.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createVaultClient } from '../../src/vault/client.js';
import { isVaultError, VaultError } from '../../src/vault/errors.js';

const QD = 'https://acme-qd.veevavault.com';

/** A scripted Vault: `answer` builds each response; every request is recorded. */
function scripted(answer: (url: URL, form: URLSearchParams, n: number) => Response) {
  const seen: { url: URL; form: URLSearchParams }[] = [];
  const fetchFake = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const form = new URLSearchParams(typeof init?.body === 'string' ? init.body : '');
    seen.push({ url, form });
    return Promise.resolve(answer(url, form, seen.length));
  };
  const typed: typeof fetch = fetchFake;
  return { fetch: typed, seen };
}

const json = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...headers } });

const authBody = (vaultId: number, vaultIds: { id: number; name: string; url: string }[]) => ({
  responseStatus: 'SUCCESS',
  sessionId: 'SESSION-ON-' + vaultId,
  userId: 1001,
  vaultId,
  vaultIds,
});

const rejectsWith = (code: string, type: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof VaultError, String(e));
  assert.equal(e.code, code);
  assert.equal(e.vaultType, type);
  if (message) assert.match(e.message, message);
  return true;
};

describe('Vault client: documented Vault behaviour', () => {
  it('refuses a login whose session is on another Vault when this Vault is not among vaultIds, naming both', async () => {
    // The user has no account on acme-qd: Vault logs them in to their default Vault instead.
    const v = scripted(() =>
      json(authBody(2, [{ id: 2, name: 'PromoMats', url: 'https://acme-pm.veevavault.com/api' }])),
    );
    const c = createVaultClient({ url: QD, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch });
    await assert.rejects(
      c.auth('a@acme.com', 'pw'),
      rejectsWith('ERR_VAULT_AUTH', 'WRONG_VAULT', /acme-pm\.veevavault\.com.*acme-qd\.veevavault\.com/),
    );
    assert.equal(v.seen[0]!.form.get('vaultDNS'), 'acme-qd.veevavault.com');
  });

  it('refuses an OAuth session opened on another Vault too', async () => {
    const v = scripted(() =>
      json(authBody(2, [{ id: 2, name: 'PromoMats', url: 'https://acme-pm.veevavault.com/api' }])),
    );
    const c = createVaultClient({ url: QD, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch });
    await assert.rejects(
      c.oauthSession('profile', 'token'),
      rejectsWith('ERR_VAULT_AUTH', 'WRONG_VAULT', /acme-pm\.veevavault\.com.*acme-qd\.veevavault\.com/),
    );
    assert.equal(v.seen[0]!.url.origin, 'https://login.veevavault.com');
  });

  it('accepts a login on this Vault, whatever other Vaults the user has', async () => {
    const v = scripted(() =>
      json(
        authBody(1, [
          { id: 2, name: 'PromoMats', url: 'https://acme-pm.veevavault.com/api' },
          { id: 1, name: 'QualityDocs', url: 'https://ACME-QD.veevavault.com/api' },
        ]),
      ),
    );
    const c = createVaultClient({ url: QD, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch });
    assert.equal((await c.auth('a@acme.com', 'pw')).sessionId, 'SESSION-ON-1');
  });

  it('API_LIMIT_EXCEEDED on /auth is not retried; logins wait for the minute and the caller is told when to retry', async () => {
    let clock = 1_000_000;
    const sleeps: number[] = [];
    const v = scripted((url) =>
      url.pathname.endsWith('/auth')
        ? json({ responseStatus: 'FAILURE', errors: [{ type: 'API_LIMIT_EXCEEDED', message: 'Auth burst limit' }] })
        : json({ responseStatus: 'SUCCESS' }),
    );
    const c = createVaultClient({
      url: QD,
      apiVersion: 'v25.2',
      clientId: 't',
      fetch: v.fetch,
      now: () => clock,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });
    const limited = (seconds: number) => (e: unknown) => {
      rejectsWith('ERR_VAULT_RATE_LIMITED', 'API_LIMIT_EXCEEDED', new RegExp(`retry in ${seconds} s`))(e);
      assert.equal((e as VaultError).details.retryAfter, seconds);
      return true;
    };
    await assert.rejects(c.auth('a@acme.com', 'pw'), limited(60));
    assert.equal(v.seen.length, 1, 'one /auth call, no retry');
    assert.deepEqual(sleeps, [], 'no sleeping in the caller');

    clock += 20_000;
    await assert.rejects(c.auth('A@acme.com', 'pw'), limited(40));
    assert.equal(v.seen.length, 1, 'within the window /auth is not called again');
    // Other calls (with a session) are not held back by the login limit.
    await c.keepAlive('S');
    assert.equal(v.seen.length, 2);

    clock += 40_001;
    await assert.rejects(c.auth('a@acme.com', 'pw'), limited(60));
    assert.equal(v.seen.length, 3, 'after the window one new attempt');
  });

  it('remembers held-back logins for at most maxBlockedLogins accounts (the least recently seen are forgotten)', async () => {
    const v = scripted(() =>
      json({ responseStatus: 'FAILURE', errors: [{ type: 'API_LIMIT_EXCEEDED', message: 'Auth burst limit' }] }),
    );
    const c = createVaultClient({ url: QD, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch, maxBlockedLogins: 2 });
    const limited = (e: unknown) => isVaultError(e, 'API_LIMIT_EXCEEDED');
    for (const who of ['a', 'b', 'c']) await assert.rejects(c.auth(`${who}@acme.com`, 'pw'), limited);
    assert.equal(v.seen.length, 3);
    // b and c are still held back without calling Vault…
    await assert.rejects(c.auth('b@acme.com', 'pw'), limited);
    await assert.rejects(c.auth('c@acme.com', 'pw'), limited);
    assert.equal(v.seen.length, 3);
    // …a was dropped to keep the bound, so its login reaches Vault again (which refuses it again).
    await assert.rejects(c.auth('a@acme.com', 'pw'), limited);
    assert.equal(v.seen.length, 4);
  });

  it("the auth limit's wait follows Retry-After when Vault sends one", async () => {
    const v = scripted(() =>
      json(
        { responseStatus: 'FAILURE', errors: [{ type: 'API_LIMIT_EXCEEDED', message: 'limit' }] },
        { 'Retry-After': '17' },
      ),
    );
    const c = createVaultClient({ url: QD, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch });
    await assert.rejects(c.auth('a@acme.com', 'pw'), (e: unknown) => isVaultError(e) && e.details.retryAfter === 17);
    assert.equal(v.seen.length, 1);
  });

  it('accepts absolute next_page URLs on the tenant Vault host and hands them back as paths; other hosts are refused', async () => {
    const page = (next: string) =>
      json({ responseStatus: 'SUCCESS', responseDetails: { size: 1, total: 3, next_page: next }, data: [{ id: 1 }] });
    const v = scripted((url) =>
      url.pathname === '/api/v25.2/query'
        ? page(`${QD}/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=1`)
        : page(`https://acme-qd.veevavault.com:443/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=2`),
    );
    const c = createVaultClient({ url: QD, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch });
    const first = await c.query('S', 'SELECT id FROM documents');
    assert.equal(first.responseDetails.next_page, '/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=1');
    // Vault's absolute URL is followed as is (the tenant's own host)…
    const second = await c.queryPage('S', `${QD}/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=1`);
    assert.equal(second.responseDetails.next_page, '/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=2');
    assert.equal(v.seen[1]!.url.href, `${QD}/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=1`);
    // …and so is the relative form.
    await c.queryPage('S', '/api/v25.2/query/0f0e-11?pagesize=1&pageoffset=2');
    assert.equal(v.seen.length, 3);
    for (const bad of [
      'https://evil.example/api/v25.2/query/0f0e-11',
      'http://acme-qd.veevavault.com/api/v25.2/query/0f0e-11', // downgraded scheme
      'https://acme-qd.veevavault.com.evil.example/api/v25.2/query/0f0e-11',
      'https://user:pw@acme-qd.veevavault.com/api/v25.2/query/0f0e-11',
      '//evil.example/api/v25.2/query/0f0e-11',
      `${QD}/api/v25.2/objects/documents/1`,
      `${QD}/api/v25.2/query/../objects/documents/1`,
    ]) {
      await assert.rejects(c.queryPage('S', bad), rejectsWith('ERR_VAULT_INVALID_REQUEST', 'INVALID_PAGE_URL'), bad);
    }
    assert.equal(v.seen.length, 3, 'no refused URL was fetched');
  });

  it('refuses an oversized answer with a typed error instead of buffering it', async () => {
    const v = scripted(() => json({ responseStatus: 'SUCCESS', data: ['x'.repeat(5_000)] }));
    const c = createVaultClient({
      url: QD,
      apiVersion: 'v25.2',
      clientId: 't',
      fetch: v.fetch,
      maxResponseBytes: 1_000,
    });
    await assert.rejects(c.query('S', 'SELECT id FROM documents'), rejectsWith('ERR_VAULT_UNAVAILABLE', 'TOO_LARGE'));
  });

  it("document version and rendition links use the tenant's Vault URL, not the host Vault answered with", async () => {
    const internal = 'http://vault-internal.local:8080';
    const v = scripted(() =>
      json({
        responseStatus: 'SUCCESS',
        document: { id: 101, name__v: 'SOP' },
        versions: [{ number: '1.0', value: `${internal}/api/v25.2/objects/documents/101/versions/1/0` }],
        renditions: {
          viewable_rendition__v: `${internal}/api/v25.2/objects/documents/101/renditions/viewable_rendition__v`,
        },
      }),
    );
    const c = createVaultClient({ url: `${QD}/`, apiVersion: 'v25.2', clientId: 't', fetch: v.fetch });
    const doc = await c.getDocument('S', 101);
    assert.deepEqual(doc.renditions, {
      viewable_rendition__v: `${QD}/api/v25.2/objects/documents/101/renditions/viewable_rendition__v`,
    });
    assert.deepEqual(doc.versions, [{ number: '1.0', value: `${QD}/api/v25.2/objects/documents/101/versions/1/0` }]);
  });
});
