/**
 * The Vault simulator: a node:http server that answers like Veeva Vault's REST API for the subset
 * vault-mcp uses. Like real Vault it answers HTTP 200 with `responseStatus` FAILURE and
 * `errors[].type/message` for every application error, sends `X-VaultAPI-*` headers, expires
 * sessions after inactivity (and at 48 h), delays responses once the burst limit is used up and fails
 * `/auth` with API_LIMIT_EXCEEDED past the auth burst limit. Faults (HTTP 429/503, API_LIMIT_EXCEEDED,
 * slow answers) can be injected, and counters let tests assert e.g. how many logins happened.
 *
 * Dev and tests only; never wired into production.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { findRoute, type SimSession, type SimState } from './routes.js';
import { canSee, defaultSeed, type SimSeed, type SimUser } from './seed.js';

export interface SimOptions {
  port?: number;
  host?: string;
  seed?: SimSeed;
  /** Inactivity timeout of a session (Vault admins configure this; default 10 min). */
  sessionTimeoutMs?: number;
  /** Calls per burst window before responses are delayed (default 2000). */
  burstLimit?: number;
  burstWindowMs?: number;
  /** Delay applied to throttled responses (default 500 ms). */
  throttleDelayMs?: number;
  /** /auth calls per username per minute; past it /auth fails with API_LIMIT_EXCEEDED (default 100). */
  authBurstLimit?: number;
  /** Latency added to every response (ms). */
  latencyMs?: number;
  /**
   * An OAuth 2.0 / OIDC profile: the session endpoint also accepts JWT access tokens signed by this
   * issuer (keys from `jwksUri`) whose `aud` is `audience` (default: the simulator's URL, i.e. tokens
   * obtained for this Vault) and whose `userClaim` (default `email`) names an active Vault user.
   */
  oauth?: { issuer: string; jwksUri: string; audience?: string; userClaim?: string };
  /** Keep every request (method, path, Authorization header, body) for tests: see `requests()`. */
  recordRequests?: boolean;
}

/** A request as the simulator received it (only with `recordRequests`). */
export interface SimRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

export type SimFault =
  | { kind: 'http429'; times: number; retryAfterSeconds?: number }
  | { kind: 'http503'; times: number }
  | { kind: 'api_limit_exceeded'; times: number }
  | { kind: 'delay'; times: number; ms: number }
  /** Answer HTTP 200 FAILURE with this Vault error type and message (e.g. RACE_CONDITION). */
  | { kind: 'failure'; times: number; type: string; message: string };

export interface SimCounters {
  /** Successful password logins per username. */
  logins: Record<string, number>;
  failedLogins: number;
  oauthLogins: Record<string, number>;
  /** Bearer tokens presented at the OAuth session endpoint, in order (accepted or not). */
  oauthTokensSeen: string[];
  delegatedLogins: Record<string, number>;
  keepAlives: number;
  logouts: number;
  /** Every request, including faulted ones. */
  requests: number;
  /** Requests answered INVALID_SESSION_ID. */
  invalidSessions: number;
  /** X-VaultAPI-ClientID values seen. */
  clientIds: string[];
}

type Session = SimSession;

export interface VaultSimulator {
  url: string;
  counters: SimCounters;
  /** Total successful logins of any kind for a username (password + OAuth + delegated). */
  loginsFor(username: string): number;
  /** Queue a fault for the next `times` API requests (cleared with null). */
  setFault(f: SimFault | null): void;
  /** Make every live session invalid (as after a password change or a Vault restart). */
  expireAllSessions(): void;
  /** Live (unexpired) sessions. */
  liveSessions(): number;
  /** An access token the simulated OAuth/OIDC profile accepts for `username`. */
  oauthToken(username: string): string;
  /** Requests received so far (empty unless started with `recordRequests`). */
  requests(): readonly SimRequest[];
  /** Reset counters (not data). */
  resetCounters(): void;
  close(): Promise<void>;
}

const MAX_SESSION_MS = 48 * 3600 * 1000;

function freshCounters(): SimCounters {
  return {
    logins: {},
    failedLogins: 0,
    oauthLogins: {},
    oauthTokensSeen: [],
    delegatedLogins: {},
    keepAlives: 0,
    logouts: 0,
    requests: 0,
    invalidSessions: 0,
    clientIds: [],
  };
}

/**
 * Start the simulator on 127.0.0.1 (random port by default).
 *
 * @example
 * const sim = await startVaultSimulator({ sessionTimeoutMs: 1000 });
 * // tenant.vault.url = sim.url
 * assert.equal(sim.loginsFor('integration@acme.com'), 1);
 */
export async function startVaultSimulator(opts: SimOptions = {}): Promise<VaultSimulator> {
  const seed = opts.seed ?? defaultSeed();
  const timeout = opts.sessionTimeoutMs ?? 10 * 60 * 1000;
  const burstLimit = opts.burstLimit ?? 2000;
  const burstWindow = opts.burstWindowMs ?? 5 * 60 * 1000;
  const authBurst = opts.authBurstLimit ?? 100;
  let counters = freshCounters();
  const sessions = new Map<string, Session>();
  const oauthTokens = new Map<string, string>();
  const queries = new Map<string, { user: number; rows: Record<string, unknown>[]; pageSize: number }>();
  const authWindows = new Map<string, { start: number; n: number }>();
  let burst = { start: Date.now(), n: 0 };
  let fault: SimFault | null = null;
  const recorded: SimRequest[] = [];
  const oauthKeys = opts.oauth ? createRemoteJWKSet(new URL(opts.oauth.jwksUri)) : undefined;

  /** The Vault user a JWT from the configured OAuth profile's issuer names, if the token is valid for this Vault. */
  async function oauthJwtUser(token: string): Promise<string | undefined> {
    if (!opts.oauth || !oauthKeys) return undefined;
    try {
      const { payload } = await jwtVerify(token, oauthKeys, {
        issuer: opts.oauth.issuer,
        audience: opts.oauth.audience ?? sim.url,
      });
      const v = payload[opts.oauth.userClaim ?? 'email'];
      return typeof v === 'string' ? v : undefined;
    } catch {
      return undefined;
    }
  }

  const userByName = (name: string) => seed.users.find((u) => u.user_name__v.toLowerCase() === name.toLowerCase());

  const newSession = (user: SimUser, delegated = false): Session => {
    // Vault session ids are long upper-case hex strings.
    const s = {
      id: randomBytes(48).toString('hex').toUpperCase(),
      user,
      createdAt: Date.now(),
      lastUsed: Date.now(),
      delegated,
    };
    sessions.set(s.id, s);
    return s;
  };
  const isLive = (s: Session, now = Date.now()) => now - s.lastUsed <= timeout && now - s.createdAt <= MAX_SESSION_MS;

  const state: SimState = {
    seed,
    count: (name) => void counters[name]++,
    countLogin: (kind, username) => void (counters[kind][username] = (counters[kind][username] ?? 0) + 1),
    failedLogin: () => void counters.failedLogins++,
    sessions,
    newSession,
    queries,
    userByName,
    oauthUser: async (bearer) => {
      counters.oauthTokensSeen.push(bearer);
      return oauthTokens.get(bearer) ?? (await oauthJwtUser(bearer));
    },
    authBurstExceeded: (username) => {
      const now = Date.now();
      const w = authWindows.get(username.toLowerCase());
      const wn = w && now - w.start < 60_000 ? w : { start: now, n: 0 };
      wn.n++;
      authWindows.set(username.toLowerCase(), wn);
      return wn.n > authBurst;
    },
    authBody: (s, dns) => authBody(s, dns),
    tableFor: (target, me) => tableFor(target, me),
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent)
        send(res, 500, {
          responseStatus: 'EXCEPTION',
          errors: [{ type: 'UNEXPECTED_ERROR', message: 'simulator failure' }],
        });
    });
  });

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const payload = JSON.stringify(body);
    const status_ = (body as { responseStatus?: string }).responseStatus;
    res.writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      ...(status_ ? { 'X-VaultAPI-Status': status_ } : {}),
      ...headers,
    });
    res.end(payload);
  }
  const failure = (type: string, message: string, extra: Record<string, unknown> = {}) => ({
    responseStatus: 'FAILURE',
    errors: [{ type, message }],
    ...extra,
  });

  async function readBody(req: IncomingMessage): Promise<string> {
    let raw = '';
    for await (const c of req) raw += (c as Buffer).toString();
    return raw;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    counters.requests++;
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    // Read the body once, up front, so a recorded request carries it.
    const rawBody = method === 'POST' || method === 'PUT' ? await readBody(req) : '';
    const readForm = () => new URLSearchParams(rawBody);
    if (opts.recordRequests)
      recorded.push({ method, path: url.pathname, authorization: req.headers.authorization, body: rawBody });
    const clientId = req.headers['x-vaultapi-clientid'];
    if (typeof clientId === 'string' && !counters.clientIds.includes(clientId)) counters.clientIds.push(clientId);
    if (opts.latencyMs) await sleep(opts.latencyMs);

    // Burst window bookkeeping, as Vault does for every API call.
    const now = Date.now();
    if (now - burst.start >= burstWindow) burst = { start: now, n: 0 };
    burst.n++;
    const limitHeaders: Record<string, string> = {
      'X-VaultAPI-BurstLimit': String(burstLimit),
      'X-VaultAPI-BurstLimitRemaining': String(Math.max(0, burstLimit - burst.n)),
      'X-VaultAPI-ExecutionId': randomUUID(),
      'X-VaultAPI-VaultId': String(seed.vaultId),
    };
    if (burst.n > burstLimit) {
      const delay = opts.throttleDelayMs ?? 500;
      limitHeaders['X-VaultAPI-ResponseDelay'] = String(delay);
      await sleep(delay);
    }

    if (fault && fault.times > 0) {
      fault.times--;
      const f = fault;
      if (fault.times <= 0) fault = null;
      if (f.kind === 'http429') {
        return send(
          res,
          429,
          { responseStatus: 'FAILURE', errors: [{ type: 'API_LIMIT_EXCEEDED', message: 'Too many requests' }] },
          {
            ...limitHeaders,
            'Retry-After': String(f.retryAfterSeconds ?? 0),
          },
        );
      }
      if (f.kind === 'http503') {
        res.writeHead(503, { 'content-type': 'text/html' });
        return res.end('<html><body>Service Unavailable</body></html>');
      }
      if (f.kind === 'api_limit_exceeded')
        return send(res, 200, failure('API_LIMIT_EXCEEDED', 'API limit exceeded; try again later.'), limitHeaders);
      if (f.kind === 'delay') await sleep(f.ms);
      if (f.kind === 'failure') return send(res, 200, failure(f.type, f.message), limitHeaders);
    }

    const reply = (body: unknown, extra: Record<string, string> = {}) =>
      send(res, 200, body, { ...limitHeaders, ...extra });

    // Dispatch through the route table: OAuth's session endpoint sits outside /api/{version}.
    const api = /^\/api\/(v\d+\.\d+)(\/.*)$/.exec(url.pathname);
    const root = findRoute(method, url.pathname, true);
    const found = root ?? (api ? findRoute(method, api[2]!, false) : undefined);
    const version = api?.[1] ?? 'v25.2';
    const path = root ? url.pathname : (api?.[2] ?? url.pathname);
    if (!found) {
      if (!api) return reply(failure('MALFORMED_URL', 'The specified resource cannot be found.'));
    }
    const [route, m] = found ?? [undefined, undefined];

    let session: Session | undefined;
    let headers: Record<string, string> = {};
    if (!route?.open) {
      // Everything else needs a live session (an unknown route too, as Vault checks the session first).
      const sid = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      session = sessions.get(sid);
      if (!session || !isLive(session)) {
        if (session) sessions.delete(sid);
        counters.invalidSessions++;
        return reply(failure('INVALID_SESSION_ID', 'Invalid or expired session ID.'));
      }
      session.lastUsed = Date.now();
      headers = { 'X-VaultAPI-UserId': String(session.user.id), 'X-VaultAPI-TruncatedSessionId': sid.slice(0, 12) };
    }
    if (!route || !m) return reply(failure('MALFORMED_URL', 'The specified resource cannot be found.'), headers);
    await route.run(
      {
        req,
        method,
        url,
        path,
        version,
        m,
        form: readForm,
        session: session!,
        me: session?.user as SimUser,
        ok: (body) => reply({ responseStatus: 'SUCCESS', ...body }, headers),
        fail: (type, message, extra) => reply(failure(type, message, extra), headers),
        text: (body) => {
          res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8', ...limitHeaders, ...headers });
          res.end(body);
        },
      },
      state,
    );
  }

  function authBody(s: Session, dns: string) {
    return {
      responseStatus: 'SUCCESS',
      sessionId: s.id,
      userId: s.user.id,
      vaultIds: [{ id: seed.vaultId, name: seed.vaultName, url: `http://${dns}/api` }],
      vaultId: seed.vaultId,
    };
  }

  function tableFor(target: string, me: SimUser): { fields: string[]; rows: Record<string, unknown>[] } | undefined {
    if (target === 'documents') {
      const rows = seed.documents.filter((d) => canSee(me, d));
      return { fields: Object.keys(seed.documents[0] ?? { id: 0 }).filter((f) => f !== 'shared_with'), rows };
    }
    if (target === 'users') {
      const rows = seed.users.map(
        ({ id, user_name__v, user_email__v, user_first_name__v, user_last_name__v, active }) => ({
          id,
          user_name__v,
          user_email__v,
          user_first_name__v,
          user_last_name__v,
          // Vault's user records carry active__v (true/false), not a status__v picklist.
          active__v: active,
        }),
      );
      return { fields: Object.keys(rows[0] ?? { id: 0 }), rows };
    }
    const obj = seed.objects[target];
    if (!obj) return undefined;
    const fields = [...new Set(obj.flatMap((r) => Object.keys(r)))];
    return { fields, rows: obj.filter((r) => canSee(me, r)) };
  }

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const sim: VaultSimulator = {
    url: `http://127.0.0.1:${port}`,
    get counters() {
      return counters;
    },
    loginsFor: (name) =>
      (counters.logins[name] ?? 0) + (counters.oauthLogins[name] ?? 0) + (counters.delegatedLogins[name] ?? 0),
    setFault: (f) => void (fault = f ? { ...f } : null),
    expireAllSessions: () => sessions.clear(),
    liveSessions: () => [...sessions.values()].filter((s) => isLive(s)).length,
    oauthToken: (username) => {
      const t = randomBytes(24).toString('base64url');
      oauthTokens.set(t, username);
      return t;
    },
    requests: () => recorded,
    resetCounters: () => void (counters = freshCounters()),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return sim;
}

function sleep(ms: number) {
  return new Promise<void>((r) => setTimeout(r, ms));
}
