/**
 * OAuth clients: dynamically registered ones (RFC 7591, stored in Postgres, secrets hashed) and Client
 * ID Metadata Document clients (an https `client_id`, resolved by {@link createCimdResolver}). The
 * registration endpoint itself is the SDK's `clientRegistrationHandler`; this store adds what it lacks:
 * redirect-URI rules, grant-type and auth-method limits, hashed secrets, constant-time checks.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import { InvalidClientMetadataError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors/index.js';
import type { CimdResolver } from './cimd.js';
import { redirectUriProblem } from './redirect-uris.js';
import { safeEqual, sha256 } from './util.js';

const AUTH_METHODS = new Set(['none', 'client_secret_post', 'client_secret_basic']);
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token']);

export interface ClientStore extends OAuthRegisteredClientsStore {
  /** The client, or an AppError: unknown id (ERR_OAUTH_INVALID_CLIENT) or a bad metadata document. */
  require(clientId: string): Promise<OAuthClientInformationFull>;
  /** Token/revocation endpoint client authentication; throws ERR_OAUTH_INVALID_CLIENT. */
  authenticate(clientId: string, secret: string | undefined): Promise<OAuthClientInformationFull>;
}

interface ClientRow {
  client_id: string;
  metadata: Omit<OAuthClientInformationFull, 'client_id' | 'client_secret'>;
  secret_sha256: Buffer | null;
  secret_expires_at: Date | null;
}

/**
 * @example
 * const clients = createClientStore({ pool, cimd });
 * const client = await clients.require(req.query.client_id);
 */
export function createClientStore(deps: { pool: Pool; cimd?: CimdResolver }): ClientStore {
  async function row(clientId: string): Promise<ClientRow | undefined> {
    if (clientId.length > 200) return undefined;
    const { rows } = await deps.pool.query<ClientRow>(
      'SELECT client_id, metadata, secret_sha256, secret_expires_at FROM control.oauth_clients WHERE client_id = $1',
      [clientId],
    );
    return rows[0];
  }

  const unknown = (clientId: string) =>
    new AppError('ERR_OAUTH_INVALID_CLIENT', `The client_id '${clientId.slice(0, 200)}' is not registered here`);

  async function getClient(clientId: string): Promise<OAuthClientInformationFull | undefined> {
    if (clientId.startsWith('https://')) return deps.cimd ? deps.cimd.resolve(clientId) : undefined;
    const r = await row(clientId);
    // The secret itself is never stored: callers see that one exists, not what it is.
    return r ? { ...r.metadata, client_id: r.client_id } : undefined;
  }

  return {
    getClient,
    async require(clientId) {
      if (clientId.startsWith('https://') && !deps.cimd)
        throw new AppError(
          'ERR_OAUTH_INVALID_CLIENT',
          'Client ID Metadata Documents are disabled on this server (OAUTH_CIMD_ENABLED=false)',
        );
      const c = await getClient(clientId);
      if (!c) throw unknown(clientId);
      return c;
    },
    async authenticate(clientId, secret) {
      const client = await this.require(clientId);
      const method = client.token_endpoint_auth_method ?? 'client_secret_basic';
      if (method === 'none') {
        if (secret !== undefined)
          throw new AppError('ERR_OAUTH_INVALID_CLIENT', 'This client is public; it must not send a client secret');
        return client;
      }
      const r = await row(clientId);
      if (!r?.secret_sha256 || secret === undefined)
        throw new AppError('ERR_OAUTH_INVALID_CLIENT', 'This client must authenticate with its client secret');
      if (!safeEqual(sha256(secret).toString('hex'), r.secret_sha256.toString('hex')))
        throw new AppError('ERR_OAUTH_INVALID_CLIENT', 'The client secret is wrong');
      if (r.secret_expires_at && r.secret_expires_at.getTime() < Date.now())
        throw new AppError('ERR_OAUTH_INVALID_CLIENT', 'The client secret has expired; register again');
      return client;
    },
    async registerClient(info) {
      const uris = info.redirect_uris ?? [];
      if (!uris.length) throw new InvalidClientMetadataError('redirect_uris: at least one is required');
      if (uris.length > 10) throw new InvalidClientMetadataError('redirect_uris: at most 10');
      for (const u of uris) {
        const p = redirectUriProblem(u);
        if (p) throw new InvalidClientMetadataError(`redirect_uris: ${u.slice(0, 200)} ${p}`);
      }
      const method = info.token_endpoint_auth_method ?? 'client_secret_basic';
      if (!AUTH_METHODS.has(method))
        throw new InvalidClientMetadataError(
          `token_endpoint_auth_method: ${method} is not supported (none, client_secret_post, client_secret_basic)`,
        );
      const grants = info.grant_types ?? ['authorization_code'];
      const badGrant = grants.find((g) => !GRANT_TYPES.has(g));
      if (badGrant) throw new InvalidClientMetadataError(`grant_types: ${badGrant} is not supported`);
      if ((info.response_types ?? ['code']).some((t) => t !== 'code'))
        throw new InvalidClientMetadataError('response_types: only code is supported');
      if (info.client_name !== undefined && info.client_name.length > 200)
        throw new InvalidClientMetadataError('client_name: at most 200 characters');
      const { client_secret: secret, ...rest } = info;
      const clientId = randomUUID();
      const issuedAt = Math.floor(Date.now() / 1000);
      const metadata = {
        ...rest,
        token_endpoint_auth_method: method,
        grant_types: grants,
        response_types: ['code'],
        client_id_issued_at: issuedAt,
      };
      await deps.pool.query(
        `INSERT INTO control.oauth_clients (client_id, metadata, secret_sha256, secret_expires_at)
         VALUES ($1, $2, $3, to_timestamp($4))`,
        [
          clientId,
          metadata,
          method === 'none' || !secret ? null : sha256(secret),
          info.client_secret_expires_at || null,
        ],
      );
      // The secret goes back to the client once, in this response; only its hash is kept.
      return { ...metadata, client_id: clientId, ...(method === 'none' ? {} : { client_secret: secret }) };
    },
  };
}
