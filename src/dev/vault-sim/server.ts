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
import { canSee, defaultSeed, type SimSeed, type SimUser } from './seed.js';
import { matches, parseVql, VqlSyntaxError } from './vql.js';

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

interface Session {
  id: string;
  user: SimUser;
  createdAt: number;
  lastUsed: number;
  delegated: boolean;
}

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
    // Vault names itself by the DNS it was called on (vaultIds, delegations); links use an internal host.
    const dns = req.headers.host ?? new URL(sim.url).host;
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

    // OAuth 2.0 / OIDC session endpoint (on login.veevavault.com for real Vaults).
    const oauth = /^\/auth\/oauth\/session\/([^/]+)$/.exec(url.pathname);
    if (oauth && method === 'POST') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (bearer) counters.oauthTokensSeen.push(bearer);
      const name = bearer ? (oauthTokens.get(bearer) ?? (await oauthJwtUser(bearer))) : undefined;
      const user = name ? userByName(name) : undefined;
      if (!user || !user.active) return reply(failure('INVALID_SESSION_ID', 'Invalid or expired OAuth access token.'));
      counters.oauthLogins[user.user_name__v] = (counters.oauthLogins[user.user_name__v] ?? 0) + 1;
      return reply(authBody(newSession(user), dns));
    }

    const m = /^\/api\/(v\d+\.\d+)(\/.*)$/.exec(url.pathname);
    if (!m) return reply(failure('MALFORMED_URL', 'The specified resource cannot be found.'));
    const version = m[1]!;
    const path = m[2]!;

    if (path === '/auth' && method === 'POST') {
      const form = readForm();
      const username = form.get('username') ?? '';
      const w = authWindows.get(username.toLowerCase());
      const wn = w && now - w.start < 60_000 ? w : { start: now, n: 0 };
      wn.n++;
      authWindows.set(username.toLowerCase(), wn);
      if (wn.n > authBurst) return reply(failure('API_LIMIT_EXCEEDED', 'Authentication API burst limit exceeded.'));
      if (!form.get('password'))
        return reply(
          failure('NO_PASSWORD_PROVIDED', 'No password was provided for the login call.', {
            errorType: 'AUTHENTICATION_FAILED',
          }),
        );
      const user = userByName(username);
      if (!user || user.password !== form.get('password')) {
        counters.failedLogins++;
        return reply(
          failure('USERNAME_OR_PASSWORD_INCORRECT', 'Authentication failed for user: ' + username, {
            errorType: 'AUTHENTICATION_FAILED',
          }),
        );
      }
      if (!user.active)
        return reply(
          failure('INACTIVE_USER', 'User is inactive or not found.', { errorType: 'AUTHENTICATION_FAILED' }),
        );
      counters.logins[user.user_name__v] = (counters.logins[user.user_name__v] ?? 0) + 1;
      return reply(authBody(newSession(user), dns));
    }

    // Everything else needs a live session.
    const sid = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const session = sessions.get(sid);
    if (!session || !isLive(session)) {
      if (session) sessions.delete(sid);
      counters.invalidSessions++;
      return reply(failure('INVALID_SESSION_ID', 'Invalid or expired session ID.'));
    }
    session.lastUsed = Date.now();
    const me = session.user;
    const sessionHeaders = { 'X-VaultAPI-UserId': String(me.id), 'X-VaultAPI-TruncatedSessionId': sid.slice(0, 12) };
    const ok = (body: Record<string, unknown>) => reply({ responseStatus: 'SUCCESS', ...body }, sessionHeaders);
    const fail = (type: string, message: string) => reply(failure(type, message), sessionHeaders);

    if (path === '/keep-alive' && method === 'POST') {
      counters.keepAlives++;
      return ok({});
    }
    if (path === '/session' && method === 'DELETE') {
      sessions.delete(sid);
      counters.logouts++;
      return ok({});
    }
    if (path === '/delegation/vaults' && method === 'GET') {
      const delegated_vaults = seed.users
        .filter((u) => u.active && u.delegates.includes(me.id))
        .map((u) => ({ id: seed.vaultId, name: seed.vaultName, dns, delegator_userid: String(u.id) }));
      return ok({ delegated_vaults });
    }
    if (path === '/delegation/login' && method === 'POST') {
      if (session.delegated)
        return fail('INVALID_SESSION_ID', 'A delegated session cannot initiate a delegated session.');
      const form = readForm();
      if (!form.get('vault_id') || !form.get('delegator_userid'))
        return fail('PARAMETER_REQUIRED', 'Missing required parameter [vault_id, delegator_userid]');
      if (Number(form.get('vault_id')) !== seed.vaultId)
        return fail('INVALID_DATA', `Invalid vault_id [${form.get('vault_id')}]`);
      const delegator = seed.users.find((u) => String(u.id) === form.get('delegator_userid'));
      if (!delegator || !delegator.active || !delegator.delegates.includes(me.id)) {
        return fail(
          'INSUFFICIENT_ACCESS',
          `User [${me.id}] has no delegate access for user [${form.get('delegator_userid')}]`,
        );
      }
      counters.delegatedLogins[delegator.user_name__v] = (counters.delegatedLogins[delegator.user_name__v] ?? 0) + 1;
      return ok({ delegated_sessionid: newSession(delegator, true).id });
    }

    if (path === '/query' && method === 'POST') {
      const form = readForm();
      const q = form.get('q') ?? url.searchParams.get('q');
      if (!q) return fail('PARAMETER_REQUIRED', 'Missing required parameter [q]');
      let parsed;
      try {
        parsed = parseVql(q);
      } catch (e) {
        if (e instanceof VqlSyntaxError)
          return fail('INCORRECT_QUERY_SYNTAX_ERROR', `Error parsing query: ${e.message}`);
        throw e;
      }
      const source = tableFor(parsed.from, me);
      if (!source) return fail('INVALID_DATA', `Invalid object or query target [${parsed.from}]`);
      const known = new Set(source.fields);
      const bad = [...parsed.fields, ...(parsed.orderBy ? [parsed.orderBy.field] : [])].find((f) => !known.has(f));
      if (bad)
        return fail('INCORRECT_QUERY_SYNTAX_ERROR', `Error parsing query: unknown field [${bad}] on [${parsed.from}]`);
      let rows = source.rows.filter((r) => matches(r, parsed.where));
      if (parsed.orderBy) {
        const { field, desc } = parsed.orderBy;
        rows = [...rows].sort(
          (a, b) =>
            String(a[field] ?? '').localeCompare(String(b[field] ?? ''), undefined, { numeric: true }) *
            (desc ? -1 : 1),
        );
      }
      if (parsed.maxRows !== undefined) rows = rows.slice(0, parsed.maxRows);
      const projected = rows.map((r) => Object.fromEntries(parsed.fields.map((f) => [f, r[f] ?? null])));
      const pageSize = Math.min(parsed.pageSize ?? 1000, 1000);
      const id = randomUUID();
      queries.set(id, { user: me.id, rows: projected, pageSize });
      // Real Vault keeps page URLs for 72 h; the simulator keeps the latest 10,000 queries.
      if (queries.size > 10_000) queries.delete(queries.keys().next().value!);
      return ok(pageOf(version, id, projected, pageSize, parsed.pageOffset ?? 0));
    }
    const page = /^\/query\/([0-9a-f-]{36})$/.exec(path);
    if (page && (method === 'POST' || method === 'GET')) {
      const stored = queries.get(page[1]!);
      if (!stored || stored.user !== me.id) return fail('INVALID_DATA', 'Invalid or expired query page.');
      const size = Number(url.searchParams.get('pagesize') ?? stored.pageSize);
      const offset = Number(url.searchParams.get('pageoffset') ?? 0);
      return ok(pageOf(version, page[1]!, stored.rows, size, offset));
    }

    const docMatch = /^\/objects\/documents\/(\d+)$/.exec(path);
    if (docMatch) {
      const doc = seed.documents.find((d) => d.id === Number(docMatch[1]));
      // Not found and not visible answer the same, so ids of hidden documents do not leak.
      if (!doc || !canSee(me, doc)) return fail('INVALID_DATA', `Invalid document id [${docMatch[1]}] or no access`);
      if (method === 'GET') {
        const { shared_with: _s, ...document } = doc;
        return ok({
          document,
          versions: [
            {
              number: `${doc.major_version_number__v}.${doc.minor_version_number__v}`,
              value: `${url.origin}/api/${version}/objects/documents/${doc.id}/versions/${doc.major_version_number__v}/${doc.minor_version_number__v}`,
            },
          ],
          renditions: {
            viewable_rendition__v: `${url.origin}/api/${version}/objects/documents/${doc.id}/renditions/viewable_rendition__v`,
          },
        });
      }
      if (method === 'PUT') {
        if (!me.canEdit)
          return fail('INSUFFICIENT_ACCESS', `User [${me.id}] does not have permission to edit document [${doc.id}]`);
        const form = readForm();
        const editable = new Set(['title__v', 'description__v', 'product__v']);
        for (const [k] of form) if (!editable.has(k)) return fail('INVALID_DATA', `Field [${k}] is not editable`);
        for (const [k, v] of form) doc[k] = v;
        doc.version_modified_date__v = new Date().toISOString();
        return ok({ id: doc.id });
      }
    }

    const vobj = /^\/vobjects\/([a-z0-9_]+)(?:\/([A-Za-z0-9]+))?$/.exec(path);
    if (vobj && method === 'GET') {
      const rows = seed.objects[vobj[1]!];
      if (!rows) return fail('INVALID_DATA', `Invalid object name [${vobj[1]}]`);
      const visible = rows.filter((r) => canSee(me, r));
      if (vobj[2]) {
        const rec = visible.find((r) => r.id === vobj[2]);
        return rec ? ok({ data: rec }) : fail('INVALID_DATA', `Invalid record id [${vobj[2]}]`);
      }
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 200), 1000);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const fields = url.searchParams.get('fields')?.split(',').filter(Boolean);
      const data = visible
        .slice(offset, offset + limit)
        .map((r) => (fields ? Object.fromEntries(fields.map((f) => [f, r[f] ?? null])) : r));
      return ok({ responseDetails: { limit, offset, size: data.length, total: visible.length }, data });
    }

    if (path === '/objects/objectworkflows/tasks' && method === 'GET') {
      const assigneeParam = url.searchParams.get('assignee__v');
      const object = url.searchParams.get('object__v');
      const record = url.searchParams.get('record_id__v');
      if (!assigneeParam && !(object && record))
        return fail('PARAMETER_REQUIRED', 'Missing required parameter [assignee__v] or [object__v, record_id__v]');
      const assignee = assigneeParam === 'me()' ? String(me.id) : assigneeParam;
      const statuses = url.searchParams.get('status__v')?.split(',').filter(Boolean);
      const objectRows = (name: unknown) => seed.objects[String(name)] ?? [];
      const all = seed.tasks.filter(
        (t) =>
          (!assignee || t.assignee__v === assignee) &&
          (!object || (t.object__v === object && t.record_id__v === record)) &&
          (!statuses || (t.status__v as string[]).some((s) => statuses.includes(s))) &&
          // A task on a record the caller cannot see is not listed.
          objectRows(t.object__v).some((r) => r.id === t.record_id__v && canSee(me, r)),
      );
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const pageSize = Math.min(Number(url.searchParams.get('page_size') ?? 200), 1000);
      return ok({
        responseDetails: {
          total: all.length,
          offset,
          page_size: pageSize,
          object: {
            name: 'objectworkflow_tasks',
            label: 'Object Workflow Task',
            url: `/api/${version}${path}${url.search}`,
            label_plural: 'Object Workflow Tasks',
          },
        },
        data: all.slice(offset, offset + pageSize),
      });
    }

    return fail('MALFORMED_URL', 'The specified resource cannot be found.');
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

function pageOf(version: string, id: string, rows: Record<string, unknown>[], pageSize: number, offset: number) {
  const data = rows.slice(offset, offset + pageSize);
  const details: Record<string, unknown> = {
    pagesize: pageSize,
    pageoffset: offset,
    size: data.length,
    total: rows.length,
  };
  if (offset + pageSize < rows.length)
    details.next_page = `/api/${version}/query/${id}?pagesize=${pageSize}&pageoffset=${offset + pageSize}`;
  if (offset > 0)
    details.previous_page = `/api/${version}/query/${id}?pagesize=${pageSize}&pageoffset=${Math.max(0, offset - pageSize)}`;
  return { responseDetails: details, data };
}

function sleep(ms: number) {
  return new Promise<void>((r) => setTimeout(r, ms));
}
