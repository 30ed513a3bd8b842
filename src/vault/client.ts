/**
 * A small, faithful Vault REST client (developer.veevavault.com): form-encoded requests, the session
 * id in `Authorization`, `X-VaultAPI-ClientID` on every call, a timeout and a body-size limit on
 * every call (through {@link fetchUpstream}), and `responseStatus` (not the HTTP status) deciding
 * success.
 *
 * Rate limits: Vault itself delays calls past the burst limit, so the client adds no throttle of its
 * own; it backs off only when Vault (or a proxy) answers an error: HTTP 429/503 and
 * `API_LIMIT_EXCEEDED` are retried a bounded number of times after the server's hint or an
 * exponential backoff. Logins are the exception: the auth limit is counted per user per minute, so
 * an `API_LIMIT_EXCEEDED` on `/auth` is never retried; further logins of that user are refused here,
 * without calling Vault, until the window Vault reported (or a minute) has passed, and the error
 * says when to retry.
 *
 * The client is stateless about sessions: callers (the session manager) pass the session id.
 *
 * @module
 */
import { LRUCache } from 'lru-cache';
import { fetchUpstream, UpstreamError } from '../shared/fetch-upstream.js';
import { backoffDelay, readLimits, retryAfterMs, type RateLimitState } from './backoff.js';
import { loginLimitError, VaultError } from './errors.js';

export interface VaultClientOptions {
  /** Vault base URL, e.g. `https://acme.veevavault.com`. */
  url: string;
  /** e.g. `v25.2`. */
  apiVersion: string;
  /** Sent as X-VaultAPI-ClientID (Vault logs it in the API usage logs). */
  clientId: string;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Retries after HTTP 429 / API_LIMIT_EXCEEDED / 503 (never for logins). */
  maxRetries?: number;
  /** Refuse response bodies larger than this (default 32 MiB). */
  maxResponseBytes?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Base URL of the OAuth/OIDC session endpoint (`https://login.veevavault.com` for real Vaults). */
  oauthLoginUrl?: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Clock (tests). */
  now?: () => number;
  /**
   * Most accounts whose logins are held back at once (default 10,000). Past it the least recently
   * seen are forgotten: their next login reaches Vault, which refuses it again if the window is open.
   */
  maxBlockedLogins?: number;
  /** Told about every attempt (`status`: HTTP status, `timeout` or `network`) and every failed call (metrics). */
  observe?: {
    attempt(status: string, ms: number): void;
    failed(type: string): void;
  };
}

export interface AuthResult {
  sessionId: string;
  userId: number;
  vaultId: number;
  vaultIds: { id: number; name: string; url: string }[];
}

export interface QueryPage<Row = Record<string, unknown>> {
  responseDetails: {
    pagesize?: number;
    pageoffset?: number;
    size: number;
    total: number;
    next_page?: string;
    previous_page?: string;
  };
  data: Row[];
}

export interface ListPage<Row = Record<string, unknown>> {
  responseDetails: Record<string, unknown>;
  data: Row[];
}

export interface Delegation {
  id: number;
  name: string;
  dns: string;
  delegator_userid: string;
}

type Body = Record<string, unknown> & { responseStatus: string };

const CLIENT_ID_RE = /[^A-Za-z0-9._-]/g;

/** Sanitize a client id to Vault's allowed characters (alphanumerics, `-`, `_`, `.`; ≤ 100). */
export function vaultClientId(...parts: string[]): string {
  return parts.join('-').replace(CLIENT_ID_RE, '_').slice(0, 100);
}

/**
 * @example
 * const vault = createVaultClient({ url: 'https://acme.veevavault.com', apiVersion: 'v25.2', clientId: 'vault-mcp-acme' });
 * const { sessionId } = await vault.auth('bot@acme.com', password);
 * const page = await vault.query(sessionId, 'SELECT id, name__v FROM documents');
 */
export function createVaultClient(opts: VaultClientOptions) {
  const base = opts.url.replace(/\/+$/, '');
  const api = `${base}/api/${opts.apiVersion}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxRetries = opts.maxRetries ?? 3;
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.()));
  const now = opts.now ?? Date.now;
  const oauthBase = (opts.oauthLoginUrl ?? defaultOAuthLoginUrl(base)).replace(/\/+$/, '');
  const host = new URL(base).host;
  const upstream = `Vault ${host}`;
  let limits: RateLimitState = {};
  // Logins refused by Vault's auth limit, per account: no /auth call for it before this time (ms).
  // Bounded: one entry per account name a caller tried, and callers choose those names.
  const authBlockedUntil = new LRUCache<string, number>({ max: opts.maxBlockedLogins ?? 10_000 });

  type CallParams = {
    session?: string;
    bearer?: string;
    form?: Record<string, string | number | undefined>;
    query?: Record<string, string | number | undefined>;
    /** A login for this account: rate limits are not retried but remembered (see the module doc). */
    login?: string;
    /** Accept a `text/plain` success body (document version text): returned as `{ text }`. */
    text?: boolean;
  };

  async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, p: CallParams = {}): Promise<Body> {
    try {
      return await send(method, url, p);
    } catch (e) {
      if (e instanceof VaultError) opts.observe?.failed(e.vaultType);
      throw e;
    }
  }

  const unavailable = (e: UpstreamError) =>
    new VaultError(
      'ERR_VAULT_UNAVAILABLE',
      e.reason === 'timeout' ? 'TIMEOUT' : e.reason === 'network' ? 'NETWORK' : 'TOO_LARGE',
      e.reason === 'timeout'
        ? `no answer from Vault within ${timeoutMs} ms`
        : e.reason === 'network'
          ? 'Vault could not be reached'
          : 'Vault sent a response larger than the limit',
      { cause: e },
    );

  function loginBlocked(account: string): VaultError | undefined {
    const until = authBlockedUntil.get(account);
    if (until === undefined) return undefined;
    const left = until - now();
    if (left <= 0) {
      authBlockedUntil.delete(account);
      return undefined;
    }
    return loginLimitError(Math.ceil(left / 1000));
  }

  async function send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, p: CallParams): Promise<Body> {
    if (p.login !== undefined) {
      const blocked = loginBlocked(p.login);
      if (blocked) throw blocked;
    }
    const u = new URL(url);
    for (const [k, v] of Object.entries(p.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: 'application/json', 'X-VaultAPI-ClientID': opts.clientId };
    if (p.session) headers.Authorization = p.session;
    if (p.bearer) headers.Authorization = `Bearer ${p.bearer}`;
    let body: string | undefined;
    if (p.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      const f = new URLSearchParams();
      for (const [k, v] of Object.entries(p.form)) if (v !== undefined) f.set(k, String(v));
      body = f.toString();
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      let text: string | undefined;
      const started = performance.now();
      try {
        res = await fetchUpstream(u, {
          upstream,
          timeoutMs,
          maxBytes: opts.maxResponseBytes ?? 32 * 1024 * 1024,
          fetch: doFetch,
          method,
          headers,
          body,
        });
        const retryable = res.status === 429 || res.status === 503;
        if (retryable) await res.body?.cancel().catch(() => undefined);
        else text = await res.text();
        opts.observe?.attempt(String(res.status), performance.now() - started);
      } catch (e) {
        if (!(e instanceof UpstreamError)) throw e;
        opts.observe?.attempt(e.reason === 'timeout' ? 'timeout' : 'network', performance.now() - started);
        throw unavailable(e);
      }
      const seen = readLimits(res.headers);
      limits = { ...limits, ...stripUndefined(seen) };

      let parsed: Body | undefined;
      if (text !== undefined) {
        if (p.text && res.ok && /^text\/plain/i.test(res.headers.get('content-type') ?? ''))
          return { responseStatus: 'SUCCESS', text };
        try {
          parsed = JSON.parse(text) as Body;
        } catch {
          throw new VaultError(
            'ERR_VAULT_UNAVAILABLE',
            `HTTP_${res.status}`,
            `Vault answered HTTP ${res.status} without a JSON body`,
          );
        }
      }
      const retryable = text === undefined;
      const limited =
        retryable || (parsed?.errors && (parsed.errors as { type?: string }[])[0]?.type === 'API_LIMIT_EXCEEDED');
      if (limited) {
        // This answer's hint only: an older X-VaultAPI-ResponseDelay says nothing about now.
        const hint = retryAfterMs(res.headers) ?? seen.responseDelayMs;
        if (p.login !== undefined && (res.status === 429 || !retryable)) {
          // The auth limit is per minute: retrying within seconds only burns the next window too.
          const waitMs = retryAfterMs(res.headers) ?? AUTH_WINDOW_MS;
          authBlockedUntil.set(p.login, now() + waitMs);
          throw loginLimitError(Math.ceil(waitMs / 1000));
        }
        if (attempt < maxRetries) {
          await sleep(
            backoffDelay({
              attempt,
              hintMs: hint,
              baseMs: opts.backoffBaseMs ?? 250,
              maxMs: opts.backoffMaxMs ?? 10_000,
            }),
          );
          continue;
        }
        if (retryable) {
          throw new VaultError(
            res.status === 429 ? 'ERR_VAULT_RATE_LIMITED' : 'ERR_VAULT_UNAVAILABLE',
            `HTTP_${res.status}`,
            `Vault answered HTTP ${res.status} ${maxRetries + 1} times`,
            { retryAfter: hint !== undefined ? Math.ceil(hint / 1000) : undefined },
          );
        }
      }
      if (!parsed || typeof parsed !== 'object' || typeof parsed.responseStatus !== 'string') {
        throw new VaultError('ERR_VAULT_UNAVAILABLE', `HTTP_${res.status}`, 'Vault answered without a responseStatus');
      }
      if (parsed.responseStatus === 'SUCCESS' || parsed.responseStatus === 'WARNING') return parsed;
      throw VaultError.fromFailure(parsed);
    }
  }

  const asAuth = (b: Body): AuthResult => ({
    sessionId: String(b.sessionId),
    userId: Number(b.userId),
    vaultId: Number(b.vaultId),
    vaultIds: Array.isArray(b.vaultIds) ? (b.vaultIds as AuthResult['vaultIds']) : [],
  });

  /**
   * Vault may open the session on another Vault of the domain (the user's default Vault, when this
   * one is not theirs or they are inactive here). Such a session must never be used for this tenant.
   */
  function homeCheck(r: AuthResult): AuthResult {
    const ours = r.vaultIds.find((v) => safeHost(v.url) === host);
    const home = r.vaultIds.find((v) => v.id === r.vaultId);
    if (!ours || ours.id !== r.vaultId) {
      const other = home ? `${home.name || home.id} (${safeHost(home.url) ?? home.url})` : `Vault ${r.vaultId}`;
      throw new VaultError(
        'ERR_VAULT_AUTH',
        'WRONG_VAULT',
        ours
          ? `the login opened a session on ${other}, not on ${host} (Vault ${ours.id}); check that the user is active in ${host}`
          : `the login opened a session on ${other}; ${host} is not among the user's Vaults (${r.vaultIds.map((v) => safeHost(v.url) ?? v.id).join(', ') || 'none listed'})`,
      );
    }
    return r;
  }

  // New endpoints: one method here that calls `call(method, `${api}/…`, { session, form?, query? })`
  // (timeout, size limit, retries, Vault errors and metrics come with it) and returns typed fields;
  // links in the answer go through `rebaseLinks`, query pages through `relativePages`, and a URL
  // taken from a caller through `ownVaultUrl` (never fetch a caller's URL as given).
  return {
    /** The last limit headers seen (for metrics and tests). */
    limits: (): Readonly<RateLimitState> => limits,

    /** POST /api/{v}/auth with form username/password; refused unless the session is on this Vault. */
    async auth(username: string, password: string): Promise<AuthResult> {
      const b = await call('POST', `${api}/auth`, {
        form: { username, password, vaultDNS: host },
        login: `auth:${username.toLowerCase()}`,
      });
      return homeCheck(asAuth(b));
    },

    /** POST {login}/auth/oauth/session/{profile_id} with a Vault-audience access token (Bearer). */
    async oauthSession(
      profileId: string,
      accessToken: string,
      p: { clientId?: string; vaultDNS?: string } = {},
    ): Promise<AuthResult> {
      const url = `${oauthBase}/auth/oauth/session/${encodeURIComponent(profileId)}`;
      const b = await call('POST', url, {
        bearer: accessToken,
        form: { client_id: p.clientId, vaultDNS: p.vaultDNS ?? host },
        login: `oauth:${profileId}`,
      });
      return homeCheck(asAuth(b));
    },

    /** GET /api/{v}/delegation/vaults: Vaults where the caller has delegate access. */
    async delegations(session: string): Promise<Delegation[]> {
      const b = await call('GET', `${api}/delegation/vaults`, { session });
      return (b.delegated_vaults as Delegation[] | undefined) ?? [];
    },

    /** POST /api/{v}/delegation/login: a session acting as `delegatorUserId`. */
    async delegationLogin(session: string, vaultId: number, delegatorUserId: string | number): Promise<string> {
      const b = await call('POST', `${api}/delegation/login`, {
        session,
        form: { vault_id: vaultId, delegator_userid: delegatorUserId },
      });
      return String(b.delegated_sessionid);
    },

    /** POST /api/{v}/keep-alive. */
    async keepAlive(session: string): Promise<void> {
      await call('POST', `${api}/keep-alive`, { session });
    },

    /** DELETE /api/{v}/session. */
    async endSession(session: string): Promise<void> {
      await call('DELETE', `${api}/session`, { session });
    },

    /**
     * POST /api/{v}/query with form `q`. `next_page`/`previous_page` come back as paths of this
     * Vault (`/api/{v}/query/…?…`) even when Vault answers absolute URLs.
     */
    async query<Row = Record<string, unknown>>(session: string, q: string): Promise<QueryPage<Row>> {
      return relativePages(base, opts.apiVersion, await call('POST', `${api}/query`, { session, form: { q } }));
    },

    /**
     * POST a `next_page`/`previous_page` value from a query response: a path under /api/{v}/query/,
     * or the same as an absolute URL on this tenant's Vault host (never another host).
     */
    async queryPage<Row = Record<string, unknown>>(session: string, pageUrl: string): Promise<QueryPage<Row>> {
      const url = resolvePageUrl(base, opts.apiVersion, pageUrl);
      return relativePages(base, opts.apiVersion, await call('POST', url, { session }));
    },

    /**
     * GET /api/{v}/objects/documents/{id}. Version and rendition links are rebuilt on the tenant's
     * Vault URL: Vault (or a proxy in front of it) may answer with an internal host name.
     */
    async getDocument(session: string, id: number): Promise<Record<string, unknown>> {
      const b = await call('GET', `${api}/objects/documents/${id}`, { session });
      return {
        document: b.document,
        versions: rebaseLinks(base, b.versions),
        renditions: rebaseLinks(base, b.renditions),
      };
    },

    /** PUT /api/{v}/objects/documents/{id}: update editable fields on the latest version. */
    async updateDocument(session: string, id: number, fields: Record<string, string>): Promise<{ id: number }> {
      const b = await call('PUT', `${api}/objects/documents/${id}`, { session, form: fields });
      return { id: Number(b.id) };
    },

    /** GET /api/{v}/vobjects/{object}[/{id}]. */
    async getObjectRecords(
      session: string,
      object: string,
      p: { fields?: string[]; limit?: number; offset?: number } = {},
    ): Promise<ListPage> {
      const b = await call('GET', `${api}/vobjects/${encodeURIComponent(object)}`, {
        session,
        query: { fields: p.fields?.join(','), limit: p.limit, offset: p.offset },
      });
      return {
        responseDetails: (b.responseDetails as Record<string, unknown>) ?? {},
        data: (b.data as Record<string, unknown>[]) ?? [],
      };
    },

    /** GET /api/{v}/objects/objectworkflows/tasks. */
    async workflowTasks(
      session: string,
      p: {
        assignee?: string;
        object?: string;
        recordId?: string;
        status?: string[];
        offset?: number;
        pageSize?: number;
      },
    ): Promise<ListPage> {
      const b = await call('GET', `${api}/objects/objectworkflows/tasks`, {
        session,
        query: {
          assignee__v: p.assignee,
          object__v: p.object,
          record_id__v: p.recordId,
          status__v: p.status?.join(','),
          offset: p.offset,
          page_size: p.pageSize,
        },
      });
      return {
        responseDetails: (b.responseDetails as Record<string, unknown>) ?? {},
        data: (b.data as Record<string, unknown>[]) ?? [],
      };
    },

    // --- Read tools and metadata (tools concern) ---

    /** GET /api/{v}/objects/documents/{id}/versions/{major}/{minor}/text: the version's plain text. */
    async documentVersionText(session: string, id: number, major: number, minor: number): Promise<string> {
      const b = await call('GET', `${api}/objects/documents/${id}/versions/${major}/${minor}/text`, {
        session,
        text: true,
      });
      return typeof b.text === 'string' ? b.text : '';
    },

    /** GET /api/{v}/objects/documents/{id}/audittrail (offset/limit paging, dates in UTC). */
    async documentAuditTrail(
      session: string,
      id: number,
      p: { startDate?: string; endDate?: string; events?: string[]; limit?: number; offset?: number } = {},
    ): Promise<ListPage> {
      const b = await call('GET', `${api}/objects/documents/${id}/audittrail`, {
        session,
        query: {
          start_date: p.startDate,
          end_date: p.endDate,
          events: p.events?.join(','),
          limit: p.limit,
          offset: p.offset,
        },
      });
      return listPage(b);
    },

    /** GET /api/{v}/objects/documents/{id}/versions/{major}/{minor}/lifecycle_actions. */
    async documentUserActions(
      session: string,
      id: number,
      major: number,
      minor: number,
    ): Promise<Record<string, unknown>[]> {
      const b = await call('GET', `${api}/objects/documents/${id}/versions/${major}/${minor}/lifecycle_actions`, {
        session,
      });
      return (b.lifecycle_actions__v as Record<string, unknown>[] | undefined) ?? [];
    },

    /** PUT /api/{v}/objects/documents/{id}/versions/{major}/{minor}/lifecycle_actions/{name}. */
    async initiateDocumentUserAction(
      session: string,
      id: number,
      major: number,
      minor: number,
      action: string,
      fields: Record<string, string> = {},
    ): Promise<{ id: number; workflowId?: string }> {
      const url = `${api}/objects/documents/${id}/versions/${major}/${minor}/lifecycle_actions/${encodeURIComponent(action)}`;
      const b = await call('PUT', url, { session, form: fields });
      return {
        id: Number(b.id),
        ...(typeof b.workflow_id__v === 'string' || typeof b.workflow_id__v === 'number'
          ? { workflowId: String(b.workflow_id__v) }
          : {}),
      };
    },

    /** GET /api/{v}/metadata/objects/documents/types[/{type}]. */
    async documentTypes(session: string, type?: string): Promise<Record<string, unknown>> {
      const suffix = type ? `/${encodeURIComponent(type)}` : '';
      const { responseStatus: _s, ...body } = await call('GET', `${api}/metadata/objects/documents/types${suffix}`, {
        session,
      });
      return body;
    },

    /** GET /api/{v}/metadata/objects/documents/properties. */
    async documentFields(session: string): Promise<Record<string, unknown>[]> {
      const b = await call('GET', `${api}/metadata/objects/documents/properties`, { session });
      return (b.properties as Record<string, unknown>[] | undefined) ?? [];
    },

    /** GET /api/{v}/metadata/vobjects. */
    async objectCollection(session: string): Promise<Record<string, unknown>[]> {
      const b = await call('GET', `${api}/metadata/vobjects`, { session });
      return (b.objects as Record<string, unknown>[] | undefined) ?? [];
    },

    /** GET /api/{v}/metadata/vobjects/{object}. */
    async objectMetadata(session: string, object: string): Promise<Record<string, unknown>> {
      const b = await call('GET', `${api}/metadata/vobjects/${encodeURIComponent(object)}`, { session });
      return (b.object as Record<string, unknown> | undefined) ?? {};
    },

    /** GET /api/{v}/objects/picklists/{name}. */
    async picklistValues(session: string, name: string): Promise<{ name: string; label: string }[]> {
      const b = await call('GET', `${api}/objects/picklists/${encodeURIComponent(name)}`, { session });
      return (b.picklistValues as { name: string; label: string }[] | undefined) ?? [];
    },

    /** GET /api/{v}/vobjects/{object}/{id}: one record with its fields. */
    async getObjectRecord(
      session: string,
      object: string,
      id: string,
    ): Promise<{ data: Record<string, unknown>; object: Record<string, unknown> }> {
      const b = await call('GET', `${api}/vobjects/${encodeURIComponent(object)}/${encodeURIComponent(id)}`, {
        session,
      });
      const details = (b.responseDetails as { object?: Record<string, unknown> } | undefined) ?? {};
      return { data: (b.data as Record<string, unknown> | undefined) ?? {}, object: details.object ?? {} };
    },

    /** GET /api/{v}/objects/objectworkflows/tasks/{id}: one task (Vault answers it as a one-row list). */
    async workflowTask(session: string, id: number): Promise<Record<string, unknown> | undefined> {
      const b = await call('GET', `${api}/objects/objectworkflows/tasks/${id}`, { session });
      return (b.data as Record<string, unknown>[] | undefined)?.[0];
    },
  };
}

/** A list endpoint's body as a page. */
function listPage(b: Body): ListPage {
  return {
    responseDetails: (b.responseDetails as Record<string, unknown>) ?? {},
    data: (b.data as Record<string, unknown>[]) ?? [],
  };
}

export type VaultClient = ReturnType<typeof createVaultClient>;

/** Real Vaults (`*.veevavault.com`) take OAuth sessions at login.veevavault.com; others (the simulator) at their own origin. */
function defaultOAuthLoginUrl(base: string): string {
  return new URL(base).hostname.endsWith('.veevavault.com') ? 'https://login.veevavault.com' : base;
}

/** The auth limit counts logins per user per minute (developer.veevavault.com, API rate limits). */
const AUTH_WINDOW_MS = 60_000;

/**
 * `url` (absolute or a path) if it is on this Vault — same scheme, host and port, no credentials —
 * and under `pathPrefix`; else `ERR_VAULT_INVALID_REQUEST` with `type` and `message`. Never an arbitrary URL.
 */
function ownVaultUrl(base: string, url: string, pathPrefix: string, type: string, message: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url, base);
  } catch {
    u = undefined;
  }
  if (!u || u.origin !== new URL(base).origin || u.username || u.password || !u.pathname.startsWith(pathPrefix)) {
    throw new VaultError('ERR_VAULT_INVALID_REQUEST', type, message);
  }
  u.hash = '';
  return u.toString();
}

/** Only pagination URLs of this Vault's query endpoint are followed. */
function resolvePageUrl(base: string, version: string, pageUrl: string): string {
  const message = 'the page URL is not a query page of this Vault';
  return ownVaultUrl(base, pageUrl, `/api/${version}/query/`, 'INVALID_PAGE_URL', message);
}

/** Page links of this Vault as paths (what tools hand back to the caller as `next_page`). */
function relativePages<Row>(base: string, version: string, b: Body): QueryPage<Row> {
  const page = b as unknown as QueryPage<Row>;
  const d = page.responseDetails as Record<string, unknown> | undefined;
  for (const k of ['next_page', 'previous_page'] as const) {
    const v = d?.[k];
    if (typeof v !== 'string') continue;
    try {
      const u = new URL(resolvePageUrl(base, version, v));
      d![k] = `${u.pathname}${u.search}`;
    } catch {
      // Not a page of this Vault: left as Vault sent it; queryPage refuses to follow it.
    }
  }
  return page;
}

/** Absolute links in a Vault answer, moved onto the tenant's Vault origin (path and query kept). */
function rebaseLinks(base: string, v: unknown): unknown {
  if (typeof v === 'string') {
    if (!/^https?:\/\//i.test(v)) return v;
    try {
      const u = new URL(v);
      return u.pathname.startsWith('/api/') ? `${base}${u.pathname}${u.search}` : v;
    } catch {
      return v;
    }
  }
  if (Array.isArray(v)) return v.map((x) => rebaseLinks(base, x));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebaseLinks(base, x)]));
  return v;
}

function safeHost(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
