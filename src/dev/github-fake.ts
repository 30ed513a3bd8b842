/**
 * A local stand-in for the GitHub REST API (`GET /user`, `GET /user/emails`) for tests and
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
export async function startGithubFake(): Promise<GithubFake> {
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
    const auth = /^(?:Bearer|token) (.+)$/.exec(req.headers.authorization ?? '');
    const user = auth ? users.get(auth[1]!) : undefined;
    if (!user) return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/user') return send(200, { id: user.id, login: user.login, type: 'User', email: null });
    if (req.method === 'GET' && path === '/user/emails') {
      if (user.noEmailScope) return send(404, { message: 'Not Found' });
      return send(200, user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
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
