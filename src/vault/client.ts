/**
 * A small, faithful Vault REST client (developer.veevavault.com): form-encoded requests, the session
 * id in `Authorization`, `X-VaultAPI-ClientID` on every call, a timeout on every call, and
 * `responseStatus` (not the HTTP status) deciding success. Rate limits are honoured: HTTP 429 and
 * `API_LIMIT_EXCEEDED` are retried a bounded number of times after the server's hint or an
 * exponential backoff; when the burst window is used up we pause before the next call.
 *
 * The client is stateless about sessions: callers (the session manager) pass the session id.
 *
 * @module
 */
import { backoffDelay, readLimits, retryAfterMs, type RateLimitState } from './backoff.js';
import { VaultError } from './errors.js';

export interface VaultClientOptions {
  /** Vault base URL, e.g. `https://acme.veevavault.com`. */
  url: string;
  /** e.g. `v25.2`. */
  apiVersion: string;
  /** Sent as X-VaultAPI-ClientID (Vault logs it in the API usage logs). */
  clientId: string;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Retries after HTTP 429 / API_LIMIT_EXCEEDED / 503. */
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Base URL of the OAuth/OIDC session endpoint (`https://login.veevavault.com` for real Vaults). */
  oauthLoginUrl?: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Clock (tests). */
  now?: () => number;
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
  let limits: RateLimitState = {};
  // Set when Vault reported the burst window used up: the next calls wait a little instead of piling on.
  let pauseUntil = 0;

  type CallParams = {
    session?: string;
    bearer?: string;
    form?: Record<string, string | number | undefined>;
    query?: Record<string, string | number | undefined>;
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

  async function send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, p: CallParams): Promise<Body> {
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
      const wait = pauseUntil - now();
      if (wait > 0) await sleep(wait);
      let res: Response;
      const started = performance.now();
      try {
        res = await doFetch(u, { method, headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
        opts.observe?.attempt(String(res.status), performance.now() - started);
      } catch (e) {
        const timedOut = (e as Error).name === 'TimeoutError';
        opts.observe?.attempt(timedOut ? 'timeout' : 'network', performance.now() - started);
        throw new VaultError(
          'ERR_VAULT_UNAVAILABLE',
          timedOut ? 'TIMEOUT' : 'NETWORK',
          timedOut ? `no answer from Vault within ${timeoutMs} ms` : 'Vault could not be reached',
          { cause: e },
        );
      }
      limits = { ...limits, ...stripUndefined(readLimits(res.headers)) };
      // Burst window used up: Vault delays further calls anyway; pause as long as it said (or a base step).
      if (limits.burstRemaining === 0)
        pauseUntil = now() + Math.min(2_000, limits.responseDelayMs ?? opts.backoffBaseMs ?? 250);

      const retryable = res.status === 429 || res.status === 503;
      let parsed: Body | undefined;
      if (!retryable) {
        const text = await res.text();
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
      } else {
        await res.body?.cancel().catch(() => undefined);
      }
      const limited =
        retryable || (parsed?.errors && (parsed.errors as { type?: string }[])[0]?.type === 'API_LIMIT_EXCEEDED');
      if (limited) {
        const hint = retryAfterMs(res.headers) ?? limits.responseDelayMs;
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
    vaultIds: (b.vaultIds as AuthResult['vaultIds'] | undefined) ?? [],
  });

  return {
    /** The last limit headers seen (for metrics and tests). */
    limits: (): Readonly<RateLimitState> => limits,

    /** POST /api/{v}/auth with form username/password. */
    async auth(username: string, password: string): Promise<AuthResult> {
      const host = new URL(base).host;
      const r = asAuth(await call('POST', `${api}/auth`, { form: { username, password, vaultDNS: host } }));
      // Vault may "default" a login to another Vault of the domain; never use such a session here.
      const ours = r.vaultIds.find((v) => safeHost(v.url) === host);
      if (ours && ours.id !== r.vaultId) {
        throw new VaultError(
          'ERR_VAULT_AUTH',
          'WRONG_VAULT',
          `the login opened a session on Vault ${r.vaultId}, not on ${host} (${ours.id}); check that the user is active there`,
        );
      }
      return r;
    },

    /** POST {login}/auth/oauth/session/{profile_id} with a Vault-audience access token (Bearer). */
    async oauthSession(
      profileId: string,
      accessToken: string,
      p: { clientId?: string; vaultDNS?: string } = {},
    ): Promise<AuthResult> {
      const url = `${oauthBase}/auth/oauth/session/${encodeURIComponent(profileId)}`;
      return asAuth(
        await call('POST', url, {
          bearer: accessToken,
          form: { client_id: p.clientId, vaultDNS: p.vaultDNS ?? new URL(base).host },
        }),
      );
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

    /** POST /api/{v}/query with form `q`. */
    async query<Row = Record<string, unknown>>(session: string, q: string): Promise<QueryPage<Row>> {
      return (await call('POST', `${api}/query`, { session, form: { q } })) as unknown as QueryPage<Row>;
    },

    /** POST a `next_page`/`previous_page` URL from a query response (a path under /api/{v}/query/). */
    async queryPage<Row = Record<string, unknown>>(session: string, pageUrl: string): Promise<QueryPage<Row>> {
      return (await call('POST', resolvePageUrl(base, opts.apiVersion, pageUrl), {
        session,
      })) as unknown as QueryPage<Row>;
    },

    /** GET /api/{v}/objects/documents/{id}. */
    async getDocument(session: string, id: number): Promise<Record<string, unknown>> {
      const b = await call('GET', `${api}/objects/documents/${id}`, { session });
      return { document: b.document, versions: b.versions, renditions: b.renditions };
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

/** Only pagination URLs of this Vault's query endpoint are followed (never an arbitrary URL). */
function resolvePageUrl(base: string, version: string, pageUrl: string): string {
  const u = new URL(pageUrl, base);
  if (u.origin !== new URL(base).origin || !u.pathname.startsWith(`/api/${version}/query/`)) {
    throw new VaultError(
      'ERR_VAULT_INVALID_REQUEST',
      'INVALID_PAGE_URL',
      'the page URL is not a query page of this Vault',
    );
  }
  return u.toString();
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
