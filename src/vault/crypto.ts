/**
 * Encryption of Vault session ids at rest: AES-256-GCM with a key derived from SECRET_KEY by HKDF
 * (SHA-256, fixed salt, purpose-bound info), so SECRET_KEY itself never touches data. The additional
 * authenticated data binds a ciphertext to its tenant schema and row key: a row copied to another
 * tenant or user does not decrypt. Layout: version (1 byte) | IV (12) | tag (16) | ciphertext.
 * Ciphertexts are never logged.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 1;

export interface SessionCipher {
  encrypt(plain: string, aad: string): Buffer;
  /** Throws when the key, AAD or data do not match. */
  decrypt(blob: Buffer, aad: string): string;
}

/**
 * @example
 * const cipher = createSessionCipher(config.secretKey);
 * const blob = cipher.encrypt(sessionId, `${schema}|${key}`);
 */
export function createSessionCipher(secretKey: string): SessionCipher {
  if (secretKey.length < 32) throw new TypeError('SECRET_KEY must be at least 32 characters');
  const key = Buffer.from(hkdfSync('sha256', secretKey, 'vault-mcp/v1', 'vault-session-encryption', 32));
  return {
    encrypt(plain, aad) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(aad, 'utf8'));
      const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, c.getAuthTag(), ct]);
    },
    decrypt(blob, aad) {
      if (blob.length < 29 || blob[0] !== VERSION) throw new Error('unknown ciphertext format');
      const d = createDecipheriv('aes-256-gcm', key, blob.subarray(1, 13));
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(blob.subarray(13, 29));
      return Buffer.concat([d.update(blob.subarray(29)), d.final()]).toString('utf8');
    },
  };
}
