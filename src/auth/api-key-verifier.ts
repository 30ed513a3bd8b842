/**
 * Verifies `vmcp_<id>_<secret>` API keys against control.api_keys on every request (no cache, so a
 * revocation takes effect at once). The user is tenant-bound; `actor` is the key, `subject` is the
 * act-as user when the key has one.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import { AuthError } from '../errors/index.js';
import { API_KEY_RE, hashSecret } from './api-keys.js';
import type { OpaqueVerifier } from './create-verifier.js';
import type { UserContext } from './types.js';

/** `last_used_at` is written at most this often per key (it is informational). */
const LAST_USED_RESOLUTION = '1 minute';

/**
 * @example
 * const apiKeys = createApiKeyVerifier({ pool, issuer: config.publicUrl });
 */
export function createApiKeyVerifier(opts: {
  pool: Pool;
  issuer: string;
  onError?: (e: Error) => void;
}): OpaqueVerifier {
  return {
    provider: 'api-key',
    async verify(token: string): Promise<UserContext> {
      const m = API_KEY_RE.exec(token);
      if (!m)
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The API key is malformed (expected vmcp_<16 hex>_<43 chars>)');
      const [, id, secret] = m as unknown as [string, string, string];
      const r = await opts.pool.query<{
        tenant_id: string;
        secret_sha256: Buffer;
        scopes: string[];
        act_as: string | null;
        expires_at: Date | null;
        revoked_at: Date | null;
      }>(
        'SELECT tenant_id, secret_sha256, scopes, act_as, expires_at, revoked_at FROM control.api_keys WHERE id = $1',
        [id],
      );
      const row = r.rows[0];
      const given = hashSecret(secret);
      // Constant-time compare; an unknown id is compared against itself so both paths cost the same.
      const stored = row?.secret_sha256.length === given.length ? row.secret_sha256 : given;
      if (!timingSafeEqual(given, stored) || !row)
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', 'The API key is not valid');
      if (row.revoked_at) throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The API key ${id} has been revoked`);
      if (row.expires_at && row.expires_at.getTime() <= Date.now()) {
        throw new AuthError('ERR_AUTH_INVALID_TOKEN', `The API key ${id} expired at ${row.expires_at.toISOString()}`);
      }
      opts.pool
        .query(
          `UPDATE control.api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '${LAST_USED_RESOLUTION}')`,
          [id],
        )
        .catch((e: Error) => opts.onError?.(e));
      const actor = `api-key:${id}`;
      return {
        subject: row.act_as ?? actor,
        provider: 'api-key',
        issuer: opts.issuer,
        email: row.act_as ?? undefined,
        // The admin who created the key asserted the act-as user; there is no email to verify otherwise.
        emailVerified: row.act_as !== null,
        scopes: [...row.scopes],
        clientId: actor,
        expiresAt: row.expires_at ? Math.floor(row.expires_at.getTime() / 1000) : Math.floor(Date.now() / 1000) + 3600,
        actor,
        tenantId: row.tenant_id,
      };
    },
  };
}
