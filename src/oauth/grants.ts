/**
 * Grants, authorization codes and refresh tokens in Postgres. Codes and refresh tokens are stored as
 * SHA-256 hashes only; the upstream tokens of a grant are encrypted (AAD binds them to the grant id).
 *
 * @module
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { inTransaction } from '../db/in-transaction.js';
import type { SessionCipher } from '../vault/crypto.js';
import type { UpstreamIdentity, UpstreamTokens } from './upstream/types.js';
import { randomToken, sha256 } from './util.js';

export interface Grant {
  id: string;
  clientId: string;
  clientName: string | null;
  subject: string;
  email: string;
  tenantId: string;
  upstream: string;
  identity: { provider: UpstreamIdentity['provider']; issuer: string; name?: string; hostedDomain?: string };
  scopes: string[];
  resource: string;
  redirectUri: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
}

interface GrantRow {
  id: string;
  client_id: string;
  client_name: string | null;
  subject: string;
  email: string;
  tenant_id: string;
  upstream: string;
  identity: Grant['identity'];
  scopes: string[];
  resource: string;
  redirect_uri: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

const toGrant = (r: GrantRow): Grant => ({
  id: r.id,
  clientId: r.client_id,
  clientName: r.client_name,
  subject: r.subject,
  email: r.email,
  tenantId: r.tenant_id,
  upstream: r.upstream,
  identity: r.identity,
  scopes: r.scopes,
  resource: r.resource,
  redirectUri: r.redirect_uri,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
  revokedReason: r.revoked_reason,
});

const GRANT_COLUMNS =
  'g.id, g.client_id, g.client_name, g.subject, g.email, g.tenant_id, g.upstream, g.identity, g.scopes, g.resource, g.redirect_uri, g.created_at, g.last_used_at, g.revoked_at, g.revoked_reason';

export const REFRESH_PREFIX = 'vmrt_';

export interface CodeRow {
  grant: Grant;
  clientId: string;
  redirectUri: string;
  redirectGiven: boolean;
  codeChallenge: string;
  expired: boolean;
}

export type RefreshLookup =
  | { kind: 'unknown' }
  | { kind: 'reused'; grant: Grant }
  | { kind: 'expired'; grant: Grant }
  | { kind: 'ok'; grant: Grant; rotate: () => Promise<string> };

/**
 * @example
 * const grants = createGrantStore({ pool, cipher, refreshTtlSeconds: 2592000 });
 */
export function createGrantStore(deps: { pool: Pool; cipher: SessionCipher; refreshTtlSeconds: number }) {
  const aad = (id: string) => `oauth-grant|${id}`;
  // A grant's upstream tokens, sealed under SECRET_KEY and bound to the grant id.
  const sealTokens = (id: string, t: UpstreamTokens) => deps.cipher.encrypt(JSON.stringify(t), aad(id));
  const openTokens = (id: string, blob: Buffer) => JSON.parse(deps.cipher.decrypt(blob, aad(id))) as UpstreamTokens;

  async function newRefresh(db: Pick<PoolClient, 'query'>, grantId: string): Promise<string> {
    const token = REFRESH_PREFIX + randomToken();
    await db.query(
      `INSERT INTO control.oauth_refresh_tokens (token_sha256, grant_id, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3))`,
      [sha256(token), grantId, deps.refreshTtlSeconds],
    );
    return token;
  }

  return {
    /** Record the consent as a grant and mint its one code. Returns the code (the only copy). */
    async create(input: {
      clientId: string;
      clientName: string | undefined;
      subject: string;
      tenantId: string;
      upstream: string;
      identity: UpstreamIdentity;
      scopes: string[];
      resource: string;
      redirectUri: string;
      redirectGiven: boolean;
      codeChallenge: string;
      codeTtlSeconds: number;
      /** Store the upstream tokens (encrypted) with the grant; otherwise they are dropped here. */
      keepUpstreamTokens: boolean;
    }): Promise<{ grantId: string; code: string }> {
      const grantId = `g_${randomToken(18)}`;
      const code = randomToken();
      const id = input.identity;
      await inTransaction(deps.pool, async (tx) => {
        await tx.query(
          `INSERT INTO control.oauth_grants (id, client_id, client_name, subject, email, tenant_id, upstream, identity,
             scopes, resource, redirect_uri, upstream_ciphertext)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            grantId,
            input.clientId,
            input.clientName?.slice(0, 200) ?? null,
            input.subject,
            id.email,
            input.tenantId,
            input.upstream,
            { provider: id.provider, issuer: id.issuer, name: id.name, hostedDomain: id.hostedDomain },
            input.scopes,
            input.resource,
            input.redirectUri,
            input.keepUpstreamTokens ? sealTokens(grantId, id.upstreamTokens) : null,
          ],
        );
        await tx.query(
          `INSERT INTO control.oauth_codes (code_sha256, grant_id, client_id, redirect_uri, redirect_given, code_challenge, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
          [
            sha256(code),
            grantId,
            input.clientId,
            input.redirectUri,
            input.redirectGiven,
            input.codeChallenge,
            input.codeTtlSeconds,
          ],
        );
      });
      return { grantId, code };
    },

    /**
     * Consume a code (atomically: one caller wins). `replayed` carries the grant of a code that was
     * already used, so the caller can revoke it.
     */
    async consumeCode(code: string): Promise<CodeRow | { replayed: Grant } | undefined> {
      const hash = sha256(code);
      const { rows } = await deps.pool.query<
        GrantRow & {
          c_client_id: string;
          c_redirect_uri: string;
          redirect_given: boolean;
          code_challenge: string;
          expired: boolean;
        }
      >(
        `UPDATE control.oauth_codes c SET used_at = now() FROM control.oauth_grants g
          WHERE c.code_sha256 = $1 AND c.used_at IS NULL AND g.id = c.grant_id
          RETURNING ${GRANT_COLUMNS}, c.client_id AS c_client_id, c.redirect_uri AS c_redirect_uri, c.redirect_given,
                    c.code_challenge, c.expires_at <= now() AS expired`,
        [hash],
      );
      const r = rows[0];
      if (r)
        return {
          grant: toGrant(r),
          clientId: r.c_client_id,
          redirectUri: r.c_redirect_uri,
          redirectGiven: r.redirect_given,
          codeChallenge: r.code_challenge,
          expired: r.expired,
        };
      const used = await deps.pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM control.oauth_codes c JOIN control.oauth_grants g ON g.id = c.grant_id
          WHERE c.code_sha256 = $1`,
        [hash],
      );
      return used.rows[0] ? { replayed: toGrant(used.rows[0]) } : undefined;
    },

    /** First refresh token of a grant (after the code exchange). */
    issueRefresh: (grantId: string) => newRefresh(deps.pool, grantId),

    /** Look a refresh token up; `rotate()` marks it used and returns its successor (one winner). */
    async lookupRefresh(token: string): Promise<RefreshLookup> {
      if (!token.startsWith(REFRESH_PREFIX) || token.length > 100) return { kind: 'unknown' };
      const hash = sha256(token);
      const { rows } = await deps.pool.query<GrantRow & { used: boolean; expired: boolean }>(
        `SELECT ${GRANT_COLUMNS}, r.used_at IS NOT NULL AS used, r.expires_at <= now() AS expired
           FROM control.oauth_refresh_tokens r JOIN control.oauth_grants g ON g.id = r.grant_id
          WHERE r.token_sha256 = $1`,
        [hash],
      );
      const r = rows[0];
      if (!r) return { kind: 'unknown' };
      const grant = toGrant(r);
      if (r.used) return { kind: 'reused', grant };
      if (r.expired) return { kind: 'expired', grant };
      return {
        kind: 'ok',
        grant,
        rotate: () =>
          inTransaction(deps.pool, async (tx) => {
            const u = await tx.query(
              'UPDATE control.oauth_refresh_tokens SET used_at = now() WHERE token_sha256 = $1 AND used_at IS NULL',
              [hash],
            );
            if (u.rowCount !== 1) throw new RefreshRaceError(grant);
            await tx.query('UPDATE control.oauth_grants SET last_used_at = now() WHERE id = $1', [grant.id]);
            return newRefresh(tx, grant.id);
          }),
      };
    },

    /**
     * Drop codes and refresh tokens a day after they expired (used ones are kept until then: they are
     * what replay and reuse detection look up).
     */
    async purge(): Promise<void> {
      await deps.pool.query("DELETE FROM control.oauth_codes WHERE expires_at < now() - interval '1 day'");
      await deps.pool.query("DELETE FROM control.oauth_refresh_tokens WHERE expires_at < now() - interval '1 day'");
    },

    async get(id: string): Promise<Grant | undefined> {
      const { rows } = await deps.pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM control.oauth_grants g WHERE g.id = $1`,
        [id],
      );
      return rows[0] ? toGrant(rows[0]) : undefined;
    },

    /** The upstream tokens kept with a grant (the `oauth` Vault mode's subject token). */
    async upstreamTokens(id: string): Promise<UpstreamIdentity['upstreamTokens'] | undefined> {
      const { rows } = await deps.pool.query<{ upstream_ciphertext: Buffer | null }>(
        'SELECT upstream_ciphertext FROM control.oauth_grants WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      const blob = rows[0]?.upstream_ciphertext;
      if (!blob) return undefined;
      return openTokens(id, blob);
    },

    /**
     * Renew a live grant's upstream tokens under its row lock, so one replica at a time refreshes them:
     * `next` gets the tokens as stored now (another replica may just have renewed them) and returns
     * their successors, or undefined to keep them. Returns the tokens kept; undefined when the grant is
     * revoked or keeps none. A throw from `next` leaves them as they were.
     */
    async updateUpstreamTokens(
      id: string,
      next: (current: UpstreamTokens) => Promise<UpstreamTokens | undefined>,
    ): Promise<UpstreamTokens | undefined> {
      return inTransaction(deps.pool, async (tx) => {
        const { rows } = await tx.query<{ upstream_ciphertext: Buffer | null }>(
          'SELECT upstream_ciphertext FROM control.oauth_grants WHERE id = $1 AND revoked_at IS NULL FOR UPDATE',
          [id],
        );
        const blob = rows[0]?.upstream_ciphertext;
        if (!blob) return undefined;
        const current = openTokens(id, blob);
        const renewed = await next(current);
        if (!renewed) return current;
        await tx.query('UPDATE control.oauth_grants SET upstream_ciphertext = $2 WHERE id = $1', [
          id,
          sealTokens(id, renewed),
        ]);
        return renewed;
      });
    },

    /** Revoke grants (and with them their codes and refresh tokens); returns the grants revoked now. */
    async revoke(
      filter: { id?: string; subject?: string; email?: string; clientId?: string; tenantId?: string },
      reason: string,
    ): Promise<Grant[]> {
      const where: string[] = ['g.revoked_at IS NULL'];
      const args: unknown[] = [reason];
      const add = (col: string, v: string | undefined) => {
        if (v === undefined) return;
        args.push(v);
        where.push(`${col} = $${args.length}`);
      };
      add('g.id', filter.id);
      add('g.subject', filter.subject);
      add('g.email', filter.email?.toLowerCase());
      add('g.client_id', filter.clientId);
      add('g.tenant_id', filter.tenantId);
      if (args.length === 1) throw new TypeError('revoke needs at least one filter');
      const { rows } = await deps.pool.query<GrantRow>(
        `UPDATE control.oauth_grants g SET revoked_at = now(), revoked_reason = $1, upstream_ciphertext = NULL
          WHERE ${where.join(' AND ')} RETURNING ${GRANT_COLUMNS}`,
        args,
      );
      if (rows.length)
        await deps.pool.query('DELETE FROM control.oauth_refresh_tokens WHERE grant_id = ANY($1)', [
          rows.map((r) => r.id),
        ]);
      return rows.map(toGrant);
    },

    async list(filter: { email?: string; clientId?: string; tenantId?: string; all?: boolean }): Promise<Grant[]> {
      const where: string[] = filter.all ? [] : ['g.revoked_at IS NULL'];
      const args: unknown[] = [];
      const add = (col: string, v: string | undefined) => {
        if (v === undefined) return;
        args.push(v);
        where.push(`${col} = $${args.length}`);
      };
      add('g.email', filter.email?.toLowerCase());
      add('g.client_id', filter.clientId);
      add('g.tenant_id', filter.tenantId);
      const { rows } = await deps.pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM control.oauth_grants g ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY g.created_at DESC LIMIT 1000`,
        args,
      );
      return rows.map(toGrant);
    },
  };
}

export type GrantStore = ReturnType<typeof createGrantStore>;

/** Two requests rotated the same refresh token at once: the loser is a reuse. */
export class RefreshRaceError extends Error {
  constructor(readonly grant: Grant) {
    super('refresh token already used');
  }
}
