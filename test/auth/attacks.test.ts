/**
 * Token attacks over real HTTP against the real server: each must be refused with 401 and a precise
 * error_description (never a generic "invalid token", never a 500).
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startDevIssuer, type DevIssuer } from '../../src/dev/issuer.js';
import { assert401, postMcp, postWithToken } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const ALLOWED = 'RS256, ES256, PS256';

describe('token attacks are refused with 401 and a precise description', () => {
  let s: TestServer;
  let evil: DevIssuer;
  let claims: Record<string, unknown>;
  before(async () => {
    s = await startTestServer({ MAX_TOKEN_BYTES: '8192' });
    evil = await startDevIssuer();
    claims = {
      iss: s.issuer.issuer,
      sub: 'mallory',
      aud: s.resource,
      email: 'mallory@acme.com',
      email_verified: true,
      scope: 'vault:read',
      iat: now(),
      exp: now() + 3600,
    };
    // Sanity: the same claims, properly signed, are accepted.
    assert.equal((await postWithToken(s.url, await s.token())).status, 200);
  });
  after(async () => {
    await s?.close();
    await evil?.close();
  });

  it('alg none (unsigned token)', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    await assert401(await postWithToken(s.url, token), `Token algorithm 'none' is not allowed (allowed: ${ALLOWED})`);
  });

  it('HS256 signed with the issuer RSA public key as the HMAC secret (key confusion)', async () => {
    const jwks = (await (await fetch(s.issuer.jwksUri)).json()) as { keys: { kty: string; kid: string }[] };
    const rsa = jwks.keys.find((k) => k.kty === 'RSA')!;
    const pem = createPublicKey({ key: rsa as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })}.${b64(claims)}`;
    const token = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    await assert401(await postWithToken(s.url, token), `Token algorithm 'HS256' is not allowed (allowed: ${ALLOWED})`);
  });

  it('wrong audience', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({ aud: 'https://other.example.com/mcp' })),
      `The token audience (aud) is not this resource; expected ${s.resource}`,
    );
  });

  it('missing audience', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({ aud: undefined })),
      'The token has no audience (aud) claim',
    );
  });

  it('token for another MCP resource on the same issuer (RFC 8707)', async () => {
    const other = s.resource.replace(/:\d+\//, ':1/');
    await assert401(
      await postWithToken(s.url, await s.token({ aud: [other, 'https://api.example.com'] })),
      `The token audience (aud) is not this resource; expected ${s.resource}`,
    );
  });

  it('untrusted issuer', async () => {
    await assert401(
      await postWithToken(s.url, await evil.mint({ ...claims, iss: 'https://evil.example.com' })),
      "The token issuer 'https://evil.example.com' is not trusted by this server",
    );
  });

  it('no issuer', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({ iss: undefined })),
      'The token has no issuer (iss) claim',
    );
  });

  it("another issuer's key claiming our issuer (unknown kid)", async () => {
    const token = await evil.mint({ ...claims });
    const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
    await assert401(await postWithToken(s.url, token), `No key in the issuer's JWKS matches the token's kid '${kid}'`);
  });

  it("another issuer's key reusing our kid (forged signature)", async () => {
    const real = await s.token();
    const kid = JSON.parse(Buffer.from(real.split('.')[0]!, 'base64url').toString()).kid;
    await assert401(
      await postWithToken(s.url, await evil.mint({ ...claims }, { header: { kid } })),
      'The token signature is invalid',
    );
  });

  it('tampered payload (scope escalation)', async () => {
    const [h, , sig] = (await s.token()).split('.');
    await assert401(
      await postWithToken(s.url, `${h}.${b64({ ...claims, scope: 'vault:read vault:write' })}.${sig}`),
      'The token signature is invalid',
    );
  });

  it('unknown kid', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({}, { header: { kid: 'no-such-key' } })),
      "No key in the issuer's JWKS matches the token's kid 'no-such-key'",
    );
  });

  it('expired', async () => {
    await assert401(await postWithToken(s.url, await s.token({}, { expiresIn: -3600 })), 'The token has expired (exp)');
  });

  it('not yet valid (future nbf)', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({ nbf: now() + 3600 })),
      'The token is not valid yet (nbf)',
    );
  });

  it('issued in the future (iat)', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({ iat: now() + 3600 })),
      'The token issue time (iat) is in the future',
    );
  });

  it('missing exp / missing sub', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({ exp: undefined })),
      "The token claim 'exp' is invalid: missing",
    );
    await assert401(
      await postWithToken(s.url, await s.token({ sub: undefined })),
      "The token claim 'sub' is invalid: missing",
    );
  });

  for (const h of ['jku', 'x5u', 'jwk', 'x5c'] as const) {
    it(`${h} header injection`, async () => {
      const value = h === 'jwk' ? { kty: 'oct', k: 'AAAA' } : h === 'x5c' ? ['MIIB'] : 'https://evil.example.com/keys';
      await assert401(
        await postWithToken(s.url, await s.token({}, { header: { [h]: value } })),
        `The token header carries '${h}', which is not accepted`,
      );
    });
  }

  it('crit header', async () => {
    await assert401(
      await postWithToken(s.url, await s.token({}, { header: { crit: ['b64'], b64: true } })),
      "The token header carries 'crit' (critical extensions), which are not supported",
    );
  });

  it('oversize token', async () => {
    const token = await s.token({ pad: 'x'.repeat(9000) });
    await assert401(await postWithToken(s.url, token), 'The token is larger than 8192 bytes');
  });

  it('malformed segments', async () => {
    await assert401(await postWithToken(s.url, 'aaa.bbb.ccc'), 'The token is not a well-formed JWT');
    await assert401(
      await postWithToken(s.url, `${b64({ alg: 'RS256' })}.bm90LWpzb24.sig`),
      'The token is not a well-formed JWT',
    );
    await assert401(
      await postWithToken(s.url, 'aaa.bbb'),
      /^The token is not a JWT and has no recognised opaque-token prefix/,
    );
    await assert401(await postWithToken(s.url, 'a.b.c.d.e'), 'Encrypted tokens (JWE) are not accepted');
    const [h, p] = (await s.token()).split('.');
    await assert401(await postWithToken(s.url, `${h}.${p}.`), 'The token signature is invalid');
  });

  it('a malformed Authorization header', async () => {
    await assert401(
      await postMcp(s.url, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }),
      "The Authorization header must be 'Bearer <token>'",
    );
    await assert401(
      await postMcp(s.url, { authorization: 'Bearer a b' }),
      "The Authorization header must be 'Bearer <token>'",
    );
  });

  it('opaque tokens of providers that are not enabled', async () => {
    await assert401(
      await postWithToken(s.url, 'gho_abcdefghijklmnop'),
      'GitHub tokens are not accepted by this server (set GITHUB_ENABLED=true)',
    );
    await assert401(
      await postWithToken(s.url, 'ya29.abcdef'),
      'Google access tokens are not accepted by this server (set GOOGLE_CLIENT_IDS)',
    );
  });

  it('a malformed or unknown API key', async () => {
    await assert401(
      await postWithToken(s.url, 'vmcp_xyz'),
      'The API key is malformed (expected vmcp_<16 hex>_<43 chars>)',
    );
    await assert401(await postWithToken(s.url, `vmcp_0123456789abcdef_${'A'.repeat(43)}`), 'The API key is not valid');
  });

  it('refuses tokens in the query string with 400 (never read from the URL)', async () => {
    const res = await fetch(`${s.url}/mcp?access_token=${await s.token()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 400);
    assert.match(
      ((await res.json()) as { error_description: string }).error_description,
      /query string \('access_token'\) are refused/,
    );
  });
});
