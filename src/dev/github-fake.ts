/**
 * A local stand-in for the GitHub REST API (`GET /user`, `GET /user/emails`, and the OAuth-app token
 * check `POST /applications/{client_id}/token`) and for GitHub's OAuth web flow
 * (`GET /login/oauth/authorize`: a login page with one link per user; `POST /login/oauth/access_token`:
 * code + PKCE S256 + client secret, errors answered as HTTP 200 `{ error }` like GitHub does) for tests
 * and `npm run dev`. Point GITHUB_API_URL and GITHUB_OAUTH_URL at it. Never used in production wiring.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GithubFakeUser {
  id: number;
  login: string;
  emails: { email: string; primary: boolean; verified: boolean }[];
  /** The token lacks `user:email` (GitHub then answers 404 on /user/emails). */
  noEmailScope?: boolean;
  /** The OAuth app the token was issued to (for `POST /applications/{client_id}/token`). */
  appClientId?: string;
}

export interface GithubFake {
  apiUrl: string;
  /** Base of the OAuth web flow (`/login/oauth/authorize`, `/login/oauth/access_token`). */
  oauthUrl: string;
  /** Register a user and return a `gho_` token for them. */
  addUser(user: GithubFakeUser): string;
  /** Forget a token (as if revoked). */
  revoke(token: string): void;
  /** Number of API calls served. */
  calls(): number;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * @example
 * const gh = await startGithubFake();
 * const token = gh.addUser({ id: 1, login: 'octo', emails: [{ email: 'octo@acme.com', primary: true, verified: true }] });
 */
export async function startGithubFake(opts: { apps?: Record<string, string> } = {}): Promise<GithubFake> {
  const apps = opts.apps ?? {};
  const users = new Map<string, GithubFakeUser>();
  /** Everyone the login page offers, by GitHub id. */
  const people = new Map<number, GithubFakeUser>();
  const pending = new Map<string, { clientId: string; redirectUri: string; state: string; challenge?: string }>();
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge?: string; user: GithubFakeUser }>();
  let calls = 0;
  let down = false;
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    calls++;
    if (down) return send(503, { message: 'Service Unavailable' });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/login/oauth/authorize') {
      const q = url.searchParams;
      const clientId = q.get('client_id') ?? '';
      if (apps[clientId] === undefined) return send(404, { message: 'Not Found' });
      const tx = randomBytes(12).toString('base64url');
      pending.set(tx, {
        clientId,
        redirectUri: q.get('redirect_uri') ?? '',
        state: q.get('state') ?? '',
        challenge: q.get('code_challenge_method') === 'S256' ? (q.get('code_challenge') ?? undefined) : undefined,
      });
      const links = [...people.values()]
        .map(
          (u) =>
            `<li><a class="user" data-login="${u.login}" href="/login/oauth/select?tx=${tx}&amp;user=${u.id}">Sign in as ${u.login}</a></li>`,
        )
        .join('\n');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(
        `<!doctype html><html><body><h1>Fake GitHub</h1><ul>\n${links}\n</ul><a class="deny" href="/login/oauth/select?tx=${tx}&amp;deny=1">Cancel</a></body></html>`,
      );
    }
    if (req.method === 'GET' && path === '/login/oauth/select') {
      const p = pending.get(url.searchParams.get('tx') ?? '');
      if (!p) return send(400, { message: 'unknown sign-in' });
      pending.delete(url.searchParams.get('tx')!);
      const back = new URL(p.redirectUri);
      const user = people.get(Number(url.searchParams.get('user')));
      if (url.searchParams.get('deny') || !user) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user has denied your application access.');
      } else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, { clientId: p.clientId, redirectUri: p.redirectUri, challenge: p.challenge, user });
        back.searchParams.set('code', code);
      }
      if (p.state) back.searchParams.set('state', p.state);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && path === '/login/oauth/access_token') {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const p = new URLSearchParams(raw);
        const clientId = p.get('client_id') ?? '';
        // GitHub answers OAuth errors with HTTP 200 and an `error` member.
        if (apps[clientId] === undefined || apps[clientId] !== p.get('client_secret'))
          return send(200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          });
        const grant = codes.get(p.get('code') ?? '');
        codes.delete(p.get('code') ?? '');
        if (!grant || grant.clientId !== clientId)
          return send(200, {
            error: 'bad_verification_code',
            error_description: 'The code passed is incorrect or expired.',
          });
        if (p.get('redirect_uri') && p.get('redirect_uri') !== grant.redirectUri)
          return send(200, {
            error: 'redirect_uri_mismatch',
            error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
          });
        if (
          grant.challenge &&
          createHash('sha256')
            .update(p.get('code_verifier') ?? '')
            .digest('base64url') !== grant.challenge
        )
          return send(200, {
            error: 'bad_verification_code',
            error_description: 'The code_verifier does not match the code_challenge.',
          });
        const token = `gho_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
        users.set(token, { ...grant.user, appClientId: clientId });
        send(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    const appCheck = /^\/applications\/([^/]+)\/token$/.exec(path);
    if (req.method === 'POST' && appCheck) {
      // Basic auth with the app's client id and secret, body { access_token }.
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      const [id, secret] = basic ? Buffer.from(basic[1]!, 'base64').toString().split(':') : [];
      if (id !== appCheck[1] || apps[id!] === undefined || apps[id!] !== secret)
        return send(401, { message: 'Bad credentials' });
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const token = (JSON.parse(raw || '{}') as { access_token?: string }).access_token ?? '';
        const u = users.get(token);
        if (!u || u.appClientId !== id) return send(404, { message: 'Not Found' });
        send(200, { app: { client_id: id }, user: { id: u.id, login: u.login } });
      });
      return;
    }
    const auth = /^(?:Bearer|token) (.+)$/.exec(req.headers.authorization ?? '');
    const user = auth ? users.get(auth[1]!) : undefined;
    if (!user) return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    if (req.method === 'GET' && path === '/user')
      return send(200, { id: user.id, login: user.login, type: 'User', email: null });
    if (req.method === 'GET' && path === '/user/emails') {
      if (user.noEmailScope) return send(404, { message: 'Not Found' });
      return send(
        200,
        user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })),
      );
    }
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    oauthUrl: `http://127.0.0.1:${port}`,
    addUser(user) {
      people.set(user.id, user);
      const token = `gho_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
      users.set(token, user);
      return token;
    },
    revoke: (t) => void users.delete(t),
    calls: () => calls,
    setDown: (d) => void (down = d),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
