/**
 * Operations on grants for the admin CLI (`npm run oauth`): list and revoke per user, client or tenant,
 * each revocation audited in the tenant's log; and signing-key rotation.
 *
 * @module
 */
import type { AuditWriter } from '../audit/index.js';
import type { Pool } from '../db/pool.js';
import { parseSchemaName } from '../db/schema-name.js';
import type { SessionCipher } from '../vault/crypto.js';
import { createGrantStore, type Grant } from './grants.js';

export interface GrantFilter {
  email?: string;
  clientId?: string;
  tenantId?: string;
  grantId?: string;
}

/**
 * @example
 * const admin = createOAuthAdmin({ pool, cipher, audit });
 * await admin.revoke({ email: 'ex.employee@acme.com' }, 'admin');
 */
export function createOAuthAdmin(deps: { pool: Pool; cipher: SessionCipher; audit?: AuditWriter }) {
  const grants = createGrantStore({ pool: deps.pool, cipher: deps.cipher, refreshTtlSeconds: 0 });
  return {
    list: (f: GrantFilter & { all?: boolean }): Promise<Grant[]> => grants.list(f),
    /** Revoke every active grant matching the filter (at least one criterion); audited per tenant. */
    async revoke(f: GrantFilter, by: string): Promise<Grant[]> {
      if (!f.email && !f.clientId && !f.tenantId && !f.grantId)
        throw new TypeError('name the grants to revoke: --user, --client, --tenant or --grant');
      const revoked = await grants.revoke(
        { email: f.email, clientId: f.clientId, tenantId: f.tenantId, id: f.grantId },
        'admin_revoked',
      );
      if (deps.audit) {
        const { rows } = await deps.pool.query<{ id: string; schema_name: string }>(
          'SELECT id, schema_name FROM control.tenants WHERE id = ANY($1)',
          [[...new Set(revoked.map((g) => g.tenantId))]],
        );
        const schemas = new Map(rows.map((r) => [r.id, parseSchemaName(r.schema_name)]));
        for (const g of revoked) {
          const schema = schemas.get(g.tenantId);
          if (!schema) continue;
          await deps.audit.record(
            { id: g.tenantId, schema },
            {
              requestId: undefined,
              subject: g.subject,
              actor: by,
              provider: g.upstream,
              tool: 'oauth.revoke',
              scopes: g.scopes,
              outcome: 'ok',
              errorCode: undefined,
              vaultUser: undefined,
              latencyMs: undefined,
              details: { client_id: g.clientId, grant: g.id, revoked: 'admin_revoked' },
            },
          );
        }
      }
      return revoked;
    },
  };
}
