/**
 * Sign-ins in progress, kept server-side (Postgres, so any replica can take the next step) and bound
 * to the browser that started them: the browser holds a random id in an HttpOnly cookie, the row its
 * hash. Every step (choose provider, upstream callback, consent page, consent POST) requires that
 * cookie, so a link or a callback URL replayed in another browser does nothing (the FastMCP OAuthProxy
 * confused-deputy bug, CVE-2026-27124, came from a callback not bound to the consenting browser).
 * The row's data is encrypted: it holds the upstream PKCE verifier and nonce and, after the callback,
 * the identity with the upstream tokens.
 *
 * @module
 */
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors/index.js';
import type { SessionCipher } from '../vault/crypto.js';
import type { UpstreamIdentity } from './upstream/types.js';
import { randomToken, sha256 } from './util.js';

/** What the client asked for at /authorize (validated). */
export interface AuthorizeRequest {
  clientId: string;
  clientName: string | undefined;
  redirectUri: string;
  /** The client sent redirect_uri explicitly (then the token request must repeat it). */
  redirectGiven: boolean;
  state: string | undefined;
  codeChallenge: string;
  scopes: string[];
  resource: string;
}

export interface LoginData {
  request: AuthorizeRequest;
  /** Upstream leg, set when the user picked a provider. */
  upstream?: { provider: string; nonce: string; verifier: string; state: string };
  /** Set after the callback. */
  identity?: UpstreamIdentity;
  subject?: string;
  tenantId?: string;
  csrf?: string;
}

export interface Login {
  id: string;
  data: LoginData;
}

/** A sign-in step refused because the browser is not the one that started it; `login` names who, for the audit. */
export class LoginError extends AppError {
  constructor(
    readonly login: Login,
    code: 'ERR_OAUTH_CSRF',
    message: string,
  ) {
    super(code, message);
  }
}

const aad = (id: string) => `oauth-login|${id}`;

/**
 * @example
 * const logins = createLoginStore({ pool, cipher, ttlSeconds: 600 });
 * const id = await logins.create(browser, { request });
 */
export function createLoginStore(deps: { pool: Pool; cipher: SessionCipher; ttlSeconds: number }) {
  const expired = () =>
    new AppError(
      'ERR_OAUTH_LOGIN_EXPIRED',
      'This sign-in is unknown or has expired; start again from your application',
    );
  const otherBrowser = (login: Login) =>
    new LoginError(
      login,
      'ERR_OAUTH_CSRF',
      'This sign-in was started in another browser (or its cookie is missing); start again from your application in this browser',
    );

  async function read(where: string, key: string | Buffer, browser: string | undefined): Promise<Login> {
    const { rows } = await deps.pool.query<{ id: string; browser_sha256: Buffer; data: Buffer }>(
      `SELECT id, browser_sha256, data FROM control.oauth_logins WHERE ${where} = $1 AND expires_at > now()`,
      [key],
    );
    const r = rows[0];
    if (!r) throw expired();
    const login = { id: r.id, data: JSON.parse(deps.cipher.decrypt(r.data, aad(r.id))) as LoginData };
    if (!browser || !sha256(browser).equals(r.browser_sha256)) throw otherBrowser(login);
    return login;
  }

  return {
    async create(browser: string, data: LoginData): Promise<string> {
      const id = randomToken(24);
      await deps.pool.query('DELETE FROM control.oauth_logins WHERE expires_at < now()');
      await deps.pool.query(
        `INSERT INTO control.oauth_logins (id, browser_sha256, data, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
        [id, sha256(browser), deps.cipher.encrypt(JSON.stringify(data), aad(id)), deps.ttlSeconds],
      );
      return id;
    },
    /** The sign-in `id` of this browser; throws ERR_OAUTH_LOGIN_EXPIRED or ERR_OAUTH_CSRF. */
    get: (id: string, browser: string | undefined) => read('id', id.slice(0, 64), browser),
    /** The sign-in an upstream callback's `state` belongs to. */
    byUpstreamState: (state: string, browser: string | undefined) => read('state_sha256', sha256(state), browser),
    async update(id: string, data: LoginData): Promise<void> {
      await deps.pool.query('UPDATE control.oauth_logins SET data = $2, state_sha256 = $3 WHERE id = $1', [
        id,
        deps.cipher.encrypt(JSON.stringify(data), aad(id)),
        data.upstream && !data.identity ? sha256(data.upstream.state) : null,
      ]);
    },
    /** Consume: true only for the one caller that deleted it (a double-submitted consent issues once). */
    async finish(id: string): Promise<boolean> {
      const r = await deps.pool.query('DELETE FROM control.oauth_logins WHERE id = $1', [id]);
      return r.rowCount === 1;
    },
  };
}

export type LoginStore = ReturnType<typeof createLoginStore>;
