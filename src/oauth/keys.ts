/**
 * Signing keys of our access tokens, kept in Postgres so every replica signs and verifies with the
 * same set. Private keys are encrypted under SECRET_KEY (AES-256-GCM, bound to their kid). The newest
 * unretired key signs; rotation retires the others, which stay published (JWKS) and accepted until
 * their `expires_at` (retirement + the access-token lifetime + margin), so no valid token breaks.
 * Replicas reload the set every minute and at once (at most every 5 s) on an unknown `kid`.
 *
 * @module
 */
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Pool } from '../db/pool.js';
import { inTransaction } from '../db/in-transaction.js';
import { AuthError } from '../errors/index.js';
import type { SessionCipher } from '../vault/crypto.js';
import { randomToken } from './util.js';

/** Advisory-lock key for key creation/rotation ('vmck'). */
const KEYS_LOCK = 0x766d636b;

export interface SigningKeys {
  /** Sign claims as an RFC 9068 access token (`typ: at+jwt`) with the current key. */
  sign(claims: JWTPayload): Promise<string>;
  /** Key resolver for jose's `jwtVerify` (published keys only). */
  getKey: JWTVerifyGetKey;
  /** The public keys, for `GET /oauth/jwks`. */
  jwks(): Promise<JSONWebKeySet>;
  /** Make a new key the signing key; the previous ones stay valid for the overlap. Returns the new kid. */
  rotate(): Promise<string>;
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_ciphertext: Buffer;
  retire_at: Date | null;
}

interface Loaded {
  at: number;
  publicKeys: Map<string, { jwk: JWK; key: CryptoKey | Uint8Array }>;
  signer: { kid: string; alg: string; key: CryptoKey | Uint8Array } | undefined;
}

const aad = (kid: string) => `oauth-signing-key|${kid}`;

/**
 * @example
 * const keys = createSigningKeys({ pool, cipher, alg: 'ES256', overlapSeconds: 900 + 300 });
 * const jwt = await keys.sign({ iss, aud, sub, exp });
 */
export function createSigningKeys(opts: {
  pool: Pool;
  cipher: SessionCipher;
  alg: 'ES256' | 'EdDSA';
  /** How long a retired key stays published and accepted (≥ the access-token lifetime). */
  overlapSeconds: number;
  reloadMs?: number;
}): SigningKeys {
  const reloadMs = opts.reloadMs ?? 60_000;
  let loaded: Loaded | undefined;
  let loading: Promise<Loaded> | undefined;

  async function create(db: { query: Pool['query'] }): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(opts.alg, { extractable: true });
    const kid = randomToken(12);
    const pub = { ...(await exportJWK(publicKey)), kid, alg: opts.alg, use: 'sig' };
    const priv = JSON.stringify(await exportJWK(privateKey));
    await db.query(
      'INSERT INTO control.oauth_signing_keys (kid, alg, public_jwk, private_ciphertext) VALUES ($1, $2, $3, $4)',
      [kid, opts.alg, pub, opts.cipher.encrypt(priv, aad(kid))],
    );
    return kid;
  }

  async function load(): Promise<Loaded> {
    let { rows } = await opts.pool.query<KeyRow>(
      `SELECT kid, alg, public_jwk, private_ciphertext, retire_at FROM control.oauth_signing_keys
        WHERE expires_at IS NULL OR expires_at > now() ORDER BY created_at DESC`,
    );
    if (!rows.some((r) => !r.retire_at)) {
      // First boot (or every key retired): one replica creates the key, the others wait and read it.
      await inTransaction(opts.pool, async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [KEYS_LOCK]);
        const again = await tx.query('SELECT 1 FROM control.oauth_signing_keys WHERE retire_at IS NULL LIMIT 1');
        if (!again.rowCount) await create(tx);
      });
      ({ rows } = await opts.pool.query<KeyRow>(
        `SELECT kid, alg, public_jwk, private_ciphertext, retire_at FROM control.oauth_signing_keys
          WHERE expires_at IS NULL OR expires_at > now() ORDER BY created_at DESC`,
      ));
    }
    const publicKeys = new Map<string, { jwk: JWK; key: CryptoKey | Uint8Array }>();
    for (const r of rows) publicKeys.set(r.kid, { jwk: r.public_jwk, key: await importJWK(r.public_jwk, r.alg) });
    const current = rows.find((r) => !r.retire_at)!;
    // A key that does not decrypt (SECRET_KEY changed) must not stop verification of the others.
    let signer: Loaded['signer'];
    try {
      const jwk = JSON.parse(opts.cipher.decrypt(current.private_ciphertext, aad(current.kid))) as JWK;
      signer = { kid: current.kid, alg: current.alg, key: await importJWK(jwk, current.alg) };
    } catch {
      signer = undefined;
    }
    return { at: Date.now(), publicKeys, signer };
  }

  async function get(force = false): Promise<Loaded> {
    if (loaded && !force && Date.now() - loaded.at < reloadMs) return loaded;
    loading ??= load().finally(() => (loading = undefined));
    return (loaded = await loading);
  }

  return {
    async sign(claims) {
      let l = await get();
      // The current key does not decrypt (SECRET_KEY changed): start a new one, keep the old published.
      if (!l.signer) {
        await this.rotate();
        l = await get();
      }
      if (!l.signer) throw new Error('no OAuth signing key can be decrypted with SECRET_KEY');
      return new SignJWT(claims)
        .setProtectedHeader({ alg: l.signer.alg, kid: l.signer.kid, typ: 'at+jwt' })
        .sign(l.signer.key);
    },
    getKey: async (header) => {
      let l = await get();
      if (header.kid && !l.publicKeys.has(header.kid) && Date.now() - l.at > 5_000) l = await get(true);
      const k = header.kid ? l.publicKeys.get(header.kid) : undefined;
      if (!k) throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The token signing key (kid) is not one of ours');
      return k.key;
    },
    async jwks() {
      const l = await get();
      return { keys: [...l.publicKeys.values()].map((k) => k.jwk) };
    },
    async rotate() {
      const kid = await inTransaction(opts.pool, async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [KEYS_LOCK]);
        await tx.query(
          `UPDATE control.oauth_signing_keys SET retire_at = now(), expires_at = now() + make_interval(secs => $1)
            WHERE retire_at IS NULL`,
          [opts.overlapSeconds],
        );
        return create(tx);
      });
      await get(true);
      return kid;
    },
  };
}
