/**
 * A local stand-in for the GitHub REST API (`GET /user`, `GET /user/emails`, and the OAuth-app token
 * check `POST /applications/{client_id}/token`) for tests and
 * `npm run dev`. Point GITHUB_API_URL at it. Never used in production wiring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
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
  let calls = 0;
  let down = false;
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    calls++;
    if (down) return send(503, { message: 'Service Unavailable' });
    const path = (req.url ?? '').split('?')[0]!;
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
    addUser(user) {
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
