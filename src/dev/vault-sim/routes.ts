/**
 * The simulator's route table: one entry per Vault endpoint (method, path pattern, whether it needs a
 * session, handler). Paths are matched against the part after `/api/{version}` unless `root` is set.
 * Response shapes follow Veeva's REST API reference (v25.2); where the reference is silent the
 * simulator's choice is noted on the handler.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { audit, canSee, type SimAction, type SimSeed, type SimUser } from './seed.js';
import { findRank, matches, parseVql, str, VqlSyntaxError } from './vql.js';

export interface SimSession {
  id: string;
  user: SimUser;
  createdAt: number;
  lastUsed: number;
  delegated: boolean;
}

/** What the routes share with the server (the server owns the data and the session table). */
export interface SimState {
  seed: SimSeed;
  /** Counters live on the server (they are replaced by resetCounters). */
  count(name: 'keepAlives' | 'logouts'): void;
  countLogin(kind: 'logins' | 'oauthLogins' | 'delegatedLogins', username: string): void;
  failedLogin(): void;
  sessions: Map<string, SimSession>;
  newSession(user: SimUser, delegated?: boolean): SimSession;
  queries: Map<string, { user: number; rows: Record<string, unknown>[]; pageSize: number }>;
  userByName(name: string): SimUser | undefined;
  /** The user named by an OAuth bearer token (simulator-issued or a JWT of the configured issuer). */
  oauthUser(bearer: string): Promise<string | undefined>;
  authBurstExceeded(username: string): boolean;
  /** `dns`: the host the Vault was called on (it names itself by it in vaultIds). */
  authBody(s: SimSession, dns: string): Record<string, unknown>;
  tableFor(target: string, me: SimUser): { fields: string[]; rows: Record<string, unknown>[] } | undefined;
}

/** One request as a route sees it. */
export interface Rq {
  req: IncomingMessage;
  method: string;
  url: URL;
  /** The path after `/api/{version}` (or the whole path for `root` routes). */
  path: string;
  version: string;
  /** The route pattern's captures. */
  m: RegExpExecArray;
  form(): URLSearchParams;
  /** Set for routes that need a session. */
  session: SimSession;
  me: SimUser;
  ok(body: Record<string, unknown>): void;
  fail(type: string, message: string, extra?: Record<string, unknown>): void;
  /** A `text/plain` success (document version text). */
  text(body: string): void;
}

export interface Route {
  method: string | readonly string[];
  path: RegExp;
  /** Matched against the full path, not under `/api/{version}`. */
  root?: boolean;
  /** Answer without a session (login endpoints). */
  open?: boolean;
  run(rq: Rq, st: SimState): void | Promise<void>;
}

/** The routes, in match order. */
export const ROUTES: readonly Route[] = [
  // OAuth 2.0 / OIDC session endpoint (on login.veevavault.com for real Vaults).
  {
    method: 'POST',
    path: /^\/auth\/oauth\/session\/([^/]+)$/,
    root: true,
    open: true,
    async run(rq, st) {
      const bearer = /^Bearer (.+)$/.exec(rq.req.headers.authorization ?? '')?.[1];
      const name = bearer ? await st.oauthUser(bearer) : undefined;
      const user = name ? st.userByName(name) : undefined;
      if (!user || !user.active) return rq.fail('INVALID_SESSION_ID', 'Invalid or expired OAuth access token.');
      st.countLogin('oauthLogins', user.user_name__v);
      rq.ok(st.authBody(st.newSession(user), dnsOf(rq)));
    },
  },
  {
    method: 'POST',
    path: /^\/auth$/,
    open: true,
    run(rq, st) {
      const form = rq.form();
      const username = form.get('username') ?? '';
      if (st.authBurstExceeded(username))
        return rq.fail('API_LIMIT_EXCEEDED', 'Authentication API burst limit exceeded.');
      const authFailed = { errorType: 'AUTHENTICATION_FAILED' };
      if (!form.get('password'))
        return rq.fail('NO_PASSWORD_PROVIDED', 'No password was provided for the login call.', authFailed);
      const user = st.userByName(username);
      if (!user || user.password !== form.get('password')) {
        st.failedLogin();
        return rq.fail('USERNAME_OR_PASSWORD_INCORRECT', 'Authentication failed for user: ' + username, authFailed);
      }
      if (!user.active) return rq.fail('INACTIVE_USER', 'User is inactive or not found.', authFailed);
      st.countLogin('logins', user.user_name__v);
      rq.ok(st.authBody(st.newSession(user), dnsOf(rq)));
    },
  },
  {
    method: 'POST',
    path: /^\/keep-alive$/,
    run(rq, st) {
      st.count('keepAlives');
      rq.ok({});
    },
  },
  {
    method: 'DELETE',
    path: /^\/session$/,
    run(rq, st) {
      st.sessions.delete(rq.session.id);
      st.count('logouts');
      rq.ok({});
    },
  },
  {
    method: 'GET',
    path: /^\/delegation\/vaults$/,
    run(rq, st) {
      const delegated_vaults = st.seed.users
        .filter((u) => u.active && u.delegates.includes(rq.me.id))
        .map((u) => ({
          id: st.seed.vaultId,
          name: st.seed.vaultName,
          dns: dnsOf(rq),
          delegator_userid: String(u.id),
        }));
      rq.ok({ delegated_vaults });
    },
  },
  {
    method: 'POST',
    path: /^\/delegation\/login$/,
    run(rq, st) {
      if (rq.session.delegated)
        return rq.fail('INVALID_SESSION_ID', 'A delegated session cannot initiate a delegated session.');
      const form = rq.form();
      const vaultId = form.get('vault_id');
      const delegatorId = form.get('delegator_userid');
      if (!vaultId || !delegatorId)
        return rq.fail('PARAMETER_REQUIRED', 'Missing required parameter [vault_id, delegator_userid]');
      if (Number(vaultId) !== st.seed.vaultId) return rq.fail('INVALID_DATA', `Invalid vault_id [${vaultId}]`);
      const delegator = st.seed.users.find((u) => String(u.id) === delegatorId);
      if (!delegator || !delegator.active || !delegator.delegates.includes(rq.me.id))
        return rq.fail('INSUFFICIENT_ACCESS', `User [${rq.me.id}] has no delegate access for user [${delegatorId}]`);
      st.countLogin('delegatedLogins', delegator.user_name__v);
      rq.ok({ delegated_sessionid: st.newSession(delegator, true).id });
    },
  },
  { method: 'POST', path: /^\/query$/, run: runQuery },
  {
    method: ['POST', 'GET'],
    path: /^\/query\/([0-9a-f-]{36})$/,
    run(rq, st) {
      const stored = st.queries.get(rq.m[1]!);
      if (!stored || stored.user !== rq.me.id) return rq.fail('INVALID_DATA', 'Invalid or expired query page.');
      const size = Number(rq.url.searchParams.get('pagesize') ?? stored.pageSize);
      const offset = Number(rq.url.searchParams.get('pageoffset') ?? 0);
      rq.ok(pageOf(rq.version, rq.m[1]!, stored.rows, size, offset));
    },
  },
  { method: 'GET', path: /^\/objects\/documents\/(\d+)$/, run: getDocument },
  { method: 'PUT', path: /^\/objects\/documents\/(\d+)$/, run: updateDocument },
  { method: 'GET', path: /^\/objects\/documents\/(\d+)\/versions\/(\d+)\/(\d+)\/text$/, run: documentText },
  { method: 'GET', path: /^\/objects\/documents\/(\d+)\/audittrail$/, run: documentAuditTrail },
  {
    method: 'GET',
    path: /^\/objects\/documents\/(\d+)\/versions\/(\d+)\/(\d+)\/lifecycle_actions$/,
    run: lifecycleActions,
  },
  {
    method: 'PUT',
    path: /^\/objects\/documents\/(\d+)\/versions\/(\d+)\/(\d+)\/lifecycle_actions\/([A-Za-z0-9_]+)$/,
    run: runLifecycleAction,
  },
  { method: 'GET', path: /^\/metadata\/objects\/documents\/types$/, run: documentTypes },
  { method: 'GET', path: /^\/metadata\/objects\/documents\/types\/([a-z0-9_]+)$/, run: documentType },
  {
    method: 'GET',
    path: /^\/metadata\/objects\/documents\/properties$/,
    run: (rq, st) => rq.ok({ properties: st.seed.documentFields ?? [] }),
  },
  { method: 'GET', path: /^\/metadata\/vobjects$/, run: objectCollection },
  { method: 'GET', path: /^\/metadata\/vobjects\/([a-z0-9_]+)$/, run: objectMetadata },
  { method: 'GET', path: /^\/objects\/picklists\/([a-z0-9_]+)$/, run: picklistValues },
  { method: 'GET', path: /^\/vobjects\/([a-z0-9_]+)(?:\/([A-Za-z0-9]+))?$/, run: objectRecords },
  { method: 'GET', path: /^\/objects\/objectworkflows\/tasks$/, run: workflowTasks },
  { method: 'GET', path: /^\/objects\/objectworkflows\/tasks\/(\d+)$/, run: workflowTask },
];

/** The route for a request, or undefined (answered MALFORMED_URL like Vault). */
export function findRoute(method: string, path: string, root: boolean): [Route, RegExpExecArray] | undefined {
  for (const r of ROUTES) {
    if (Boolean(r.root) !== root) continue;
    const methods: readonly string[] = typeof r.method === 'string' ? [r.method] : r.method;
    if (!methods.includes(method)) continue;
    const m = r.path.exec(path);
    if (m) return [r, m];
  }
  return undefined;
}

function runQuery(rq: Rq, st: SimState) {
  const q = rq.form().get('q') ?? rq.url.searchParams.get('q');
  if (!q) return rq.fail('PARAMETER_REQUIRED', 'Missing required parameter [q]');
  let parsed;
  try {
    parsed = parseVql(q);
  } catch (e) {
    if (e instanceof VqlSyntaxError)
      return rq.fail('INCORRECT_QUERY_SYNTAX_ERROR', `Error parsing query: ${e.message}`);
    throw e;
  }
  const source = st.tableFor(parsed.from, rq.me);
  if (!source) return rq.fail('INVALID_DATA', `Invalid object or query target [${parsed.from}]`);
  const find = parsed.find;
  if (find && parsed.from !== 'documents' && find.scope !== 'PROPERTIES')
    return rq.fail('INCORRECT_QUERY_SYNTAX_ERROR', `Error parsing query: SCOPE ${find.scope} is only for documents`);
  const byRank = parsed.orderBy?.field.toUpperCase() === 'RANK';
  if (byRank && !find) return rq.fail('INCORRECT_QUERY_SYNTAX_ERROR', 'Error parsing query: ORDER BY RANK needs FIND');
  const known = new Set(source.fields);
  const bad = [...parsed.fields, ...(parsed.orderBy && !byRank ? [parsed.orderBy.field] : [])].find(
    (f) => !known.has(f),
  );
  if (bad)
    return rq.fail('INCORRECT_QUERY_SYNTAX_ERROR', `Error parsing query: unknown field [${bad}] on [${parsed.from}]`);
  let rows = source.rows.filter((r) => matches(r, parsed.where));
  if (find) {
    const texts = st.seed.documentTexts ?? {};
    const searchable = (r: Record<string, unknown>) => {
      const props = Object.entries(r)
        .filter(([k, v]) => k !== 'shared_with' && typeof v === 'string')
        .map(([, v]) => str(v))
        .join(' ');
      const content = texts[Number(r.id)] ?? '';
      return find.scope === 'CONTENT' ? content : find.scope === 'ALL' ? `${props} ${content}` : props;
    };
    const ranked = rows.map((r) => ({ r, rank: findRank(searchable(r), find.phrase) })).filter((x) => x.rank > 0);
    // Stable: equal ranks keep Vault's default order.
    if (byRank) ranked.sort((a, b) => (b.rank - a.rank) * (parsed.orderBy!.desc ? -1 : 1));
    rows = ranked.map((x) => x.r);
  }
  if (parsed.orderBy && !byRank) {
    const { field, desc } = parsed.orderBy;
    rows = [...rows].sort(
      (a, b) => str(a[field]).localeCompare(str(b[field]), undefined, { numeric: true }) * (desc ? -1 : 1),
    );
  }
  if (parsed.maxRows !== undefined) rows = rows.slice(0, parsed.maxRows);
  const projected = rows.map((r) => Object.fromEntries(parsed.fields.map((f) => [f, r[f] ?? null])));
  const pageSize = Math.min(parsed.pageSize ?? 1000, 1000);
  const id = randomUUID();
  st.queries.set(id, { user: rq.me.id, rows: projected, pageSize });
  // Real Vault keeps page URLs for 72 h; the simulator keeps the latest 10,000 queries.
  if (st.queries.size > 10_000) st.queries.delete(st.queries.keys().next().value!);
  rq.ok(pageOf(rq.version, id, projected, pageSize, parsed.pageOffset ?? 0));
}

/**
 * A visible document by id. Not found and not visible answer the same (simulator choice), so ids of
 * hidden documents do not leak.
 */
function visibleDoc(rq: Rq, st: SimState, id: string) {
  const doc = st.seed.documents.find((d) => d.id === Number(id));
  if (!doc || !canSee(rq.me, doc)) {
    rq.fail('INVALID_DATA', `Invalid document id [${id}] or no access`);
    return undefined;
  }
  return doc;
}

const versionOf = (d: Record<string, unknown>) => `${str(d.major_version_number__v)}.${str(d.minor_version_number__v)}`;

/** The latest version is the only one the simulator keeps (older versions answer INVALID_DATA). */
function latestVersion(rq: Rq, st: SimState) {
  const doc = visibleDoc(rq, st, rq.m[1]!);
  if (!doc) return undefined;
  if (`${rq.m[2]}.${rq.m[3]}` !== versionOf(doc)) {
    rq.fail('INVALID_DATA', `Invalid document version [${rq.m[1]}_${rq.m[2]}_${rq.m[3]}]`);
    return undefined;
  }
  return doc;
}

function getDocument(rq: Rq, st: SimState) {
  const doc = visibleDoc(rq, st, rq.m[1]!);
  if (!doc) return;
  const { shared_with: _s, ...document } = doc;
  const base = `${rq.url.origin}/api/${rq.version}/objects/documents/${doc.id}`;
  rq.ok({
    document,
    versions: [
      {
        number: versionOf(doc),
        value: `${base}/versions/${str(doc.major_version_number__v)}/${str(doc.minor_version_number__v)}`,
      },
    ],
    renditions: { viewable_rendition__v: `${base}/renditions/viewable_rendition__v` },
  });
}

function updateDocument(rq: Rq, st: SimState) {
  const doc = visibleDoc(rq, st, rq.m[1]!);
  if (!doc) return;
  if (!rq.me.canEdit)
    return rq.fail('INSUFFICIENT_ACCESS', `User [${rq.me.id}] does not have permission to edit document [${doc.id}]`);
  const form = rq.form();
  const editable = new Set(['title__v', 'description__v', 'product__v']);
  for (const [k] of form) if (!editable.has(k)) return rq.fail('INVALID_DATA', `Field [${k}] is not editable`);
  for (const [k, v] of form) doc[k] = v;
  doc.version_modified_date__v = new Date().toISOString();
  rq.ok({ id: doc.id });
}

/** `text/plain` on success; a document without text answers FAILURE (type chosen by the simulator). */
function documentText(rq: Rq, st: SimState) {
  const doc = latestVersion(rq, st);
  if (!doc) return;
  const text = st.seed.documentTexts?.[doc.id as number];
  if (text === undefined) return rq.fail('INVALID_DATA', `No text found for document [${doc.id}]`);
  rq.text(text);
}

function documentAuditTrail(rq: Rq, st: SimState) {
  const doc = visibleDoc(rq, st, rq.m[1]!);
  if (!doc) return;
  const sp = rq.url.searchParams;
  const limit = Number(sp.get('limit') ?? 200);
  const offset = Number(sp.get('offset') ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    return rq.fail('INVALID_DATA', `Invalid value [${sp.get('limit')}] for parameter [limit]`);
  if (!Number.isInteger(offset) || offset < 0)
    return rq.fail('INVALID_DATA', `Invalid value [${sp.get('offset')}] for parameter [offset]`);
  const dateRe = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$/;
  for (const k of ['start_date', 'end_date'])
    if (sp.get(k) && !dateRe.test(sp.get(k)!))
      return rq.fail('INVALID_DATA', `Invalid date [${sp.get(k)}]; use YYYY-MM-DDTHH:MM:SSZ`);
  const start = sp.get('start_date') ?? '';
  const end = sp.get('end_date');
  const events = sp.get('events')?.split(',').filter(Boolean);
  const users = new Map(st.seed.users.map((u) => [u.id, u]));
  const all = (st.seed.auditTrail?.[doc.id as number] ?? [])
    .filter(
      (e) =>
        str(e.timestamp) >= start &&
        (!end || str(e.timestamp) <= (end.length === 10 ? `${end}T23:59:59Z` : end)) &&
        (!events || events.includes(str(e.action))),
    )
    .map(({ user_id, state: _state, ...e }) => {
      const u = users.get(user_id as number);
      return {
        ...e,
        user_name: u?.user_name__v ?? null,
        full_name: u ? `${u.user_first_name__v} ${u.user_last_name__v}` : null,
        item: str(doc.document_number__v),
        doc_id: String(doc.id),
        document_url: `/ui/#doc_info/${doc.id}/${String(e.version).replace('.', '/')}`,
      };
    });
  const data = all.slice(offset, offset + limit);
  const base = `/api/${rq.version}/objects/documents/${doc.id}/audittrail`;
  const details: Record<string, unknown> = {
    offset,
    limit,
    size: data.length,
    total: all.length,
    object: {
      name: 'document_audit_trail',
      label: 'Document Audit Trail',
      url: `/api/${rq.version}/metadata/audittrail/document_audit_trail`,
    },
  };
  if (offset + limit < all.length) details.next_page = `${base}?offset=${offset + limit}&limit=${limit}`;
  if (offset > 0) details.previous_page = `${base}?offset=${Math.max(0, offset - limit)}&limit=${limit}`;
  rq.ok({ responseDetails: details, data });
}

function actionsFor(st: SimState, doc: Record<string, unknown>): SimAction[] {
  return st.seed.lifecycleActions?.[str(doc.status__v)] ?? [];
}

function lifecycleActions(rq: Rq, st: SimState) {
  const doc = latestVersion(rq, st);
  if (!doc) return;
  const base = `${rq.url.origin}/api/${rq.version}/objects/documents/${doc.id}/versions/${rq.m[2]}/${rq.m[3]}`;
  const lifecycle = `${str(doc.lifecycle__v).toLowerCase().replace(/\W+/g, '_')}__c`;
  const state = `${str(doc.status__v).toLowerCase().replace(/\W+/g, '_')}__c`;
  rq.ok({
    responseMessage: 'Success',
    lifecycle_actions__v: actionsFor(st, doc).map((a) => ({
      name__v: a.name__v,
      label__v: a.label__v,
      lifecycle_action_type__v: a.lifecycle_action_type__v,
      lifecycle__v: lifecycle,
      state__v: state,
      // Vault sends these as strings; editors may run actions, viewers only see them.
      executable__v: String(rq.me.canEdit),
      ...(rq.me.canEdit ? { entry_requirements__v: `${base}/lifecycle_actions/${a.name__v}/entry_requirements` } : {}),
    })),
  });
}

let nextWorkflowId = 900;

function runLifecycleAction(rq: Rq, st: SimState) {
  const doc = latestVersion(rq, st);
  if (!doc) return;
  const action = actionsFor(st, doc).find((a) => a.name__v === rq.m[4]);
  // Simulator choice: an action not available in the document's state answers INVALID_DATA.
  if (!action) return rq.fail('INVALID_DATA', `Invalid user action [${rq.m[4]}] for document [${doc.id}]`);
  if (!rq.me.canEdit)
    return rq.fail('INSUFFICIENT_ACCESS', `User [${rq.me.id}] does not have permission to run [${action.name__v}]`);
  const from = str(doc.status__v);
  const trail = (st.seed.auditTrail ??= {});
  const entries = (trail[doc.id as number] ??= []);
  const entry = (actionName: string, description: string) =>
    audit(
      6000 + entries.length + Math.floor(Math.random() * 1000),
      new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      rq.me.id,
      actionName,
      from,
      versionOf(doc),
      { event_description: description },
    );
  if (action.lifecycle_action_type__v === 'workflow') {
    const workflowId = String(nextWorkflowId++);
    entries.unshift(entry('StartWorkflow', `Started workflow ${action.label__v}`));
    return rq.ok({ id: doc.id, workflow_id__v: workflowId });
  }
  doc.status__v = action.target!;
  if (['Approved', 'Effective'].includes(action.target!) && Number(doc.minor_version_number__v) > 0) {
    doc.major_version_number__v = Number(doc.major_version_number__v) + 1;
    doc.minor_version_number__v = 0;
  }
  doc.version_modified_date__v = new Date().toISOString();
  entries.unshift(entry('ChangeState', `Changed state from ${from} to ${action.target!}`));
  rq.ok({ id: doc.id });
}

function documentTypes(rq: Rq, st: SimState) {
  const base = `${rq.url.origin}/api/${rq.version}/metadata/objects/documents`;
  rq.ok({
    types: (st.seed.documentTypes ?? []).map((t) => ({ label: t.label, value: `${base}/types/${t.name}` })),
    lock: `${base}/lock`,
  });
}

function documentType(rq: Rq, st: SimState) {
  const t = (st.seed.documentTypes ?? []).find((x) => x.name === rq.m[1]);
  if (!t) return rq.fail('INVALID_DATA', `Invalid document type [${rq.m[1]}]`);
  const base = `${rq.url.origin}/api/${rq.version}/metadata/objects/documents/types/${t.name}`;
  rq.ok({
    name: t.name,
    label: t.label,
    properties: st.seed.documentFields ?? [],
    renditions: ['viewable_rendition__v'],
    availableLifecycles: [{ name: 'general_lifecycle__c', label: 'General Lifecycle' }],
    subtypes: (t.subtypes ?? []).map((s) => ({ label: s.label, value: `${base}/subtypes/${s.name}` })),
  });
}

function objectCollection(rq: Rq, st: SimState) {
  rq.ok({
    objects: Object.entries(st.seed.objectMeta ?? {}).map(([name, o]) => ({
      url: `/api/${rq.version}/metadata/vobjects/${name}`,
      label: o.label,
      name,
      label_plural: o.label_plural,
      prefix: o.prefix,
      in_menu: true,
      source: name.endsWith('__c') ? 'custom' : 'standard',
      status: ['active__v'],
      configuration_state: 'STEADY_STATE',
    })),
  });
}

function objectMetadata(rq: Rq, st: SimState) {
  const name = rq.m[1]!;
  const o = st.seed.objectMeta?.[name];
  if (!o) return rq.fail('INVALID_DATA', `Invalid object name [${name}]`);
  const v = `/api/${rq.version}`;
  rq.ok({
    object: {
      name,
      label: o.label,
      label_plural: o.label_plural,
      prefix: o.prefix,
      source: name.endsWith('__c') ? 'custom' : 'standard',
      status: ['active__v'],
      urls: {
        field: `${v}/metadata/vobjects/${name}/fields/{name}`,
        record: `${v}/vobjects/${name}/{id}`,
        list: `${v}/vobjects/${name}`,
        metadata: `${v}/metadata/vobjects/${name}`,
      },
      fields: o.fields.map((f, order) => ({
        name: f.name,
        label: f.label,
        type: f.type,
        required: f.required ?? false,
        editable: f.name !== 'id',
        source: f.name.endsWith('__c') ? 'custom' : 'standard',
        status: ['active__v'],
        order,
        ...(f.picklist ? { picklist: f.picklist } : {}),
      })),
    },
  });
}

function picklistValues(rq: Rq, st: SimState) {
  const p = st.seed.picklists?.[rq.m[1]!];
  if (!p) return rq.fail('INVALID_DATA', `Invalid picklist name [${rq.m[1]}]`);
  rq.ok({ responseMessage: 'Success', picklistValues: p.values });
}

function objectRecords(rq: Rq, st: SimState) {
  const object = rq.m[1]!;
  const rows = st.seed.objects[object];
  if (!rows) return rq.fail('INVALID_DATA', `Invalid object name [${object}]`);
  const visible = rows.filter((r) => canSee(rq.me, r));
  const meta = st.seed.objectMeta?.[object];
  const objectRef = {
    url: `/api/${rq.version}/metadata/vobjects/${object}`,
    label: meta?.label ?? object,
    name: object,
    label_plural: meta?.label_plural ?? object,
    prefix: meta?.prefix ?? '',
  };
  if (rq.m[2]) {
    // Hidden and missing records answer the same (simulator choice, as for documents).
    const rec = visible.find((r) => r.id === rq.m[2]);
    if (!rec) return rq.fail('INVALID_DATA', `Invalid record id [${rq.m[2]}]`);
    return rq.ok({
      responseDetails: { url: `/api/${rq.version}/vobjects/${object}/${rq.m[2]}`, object: objectRef },
      data: rec,
    });
  }
  const limit = Math.min(Number(rq.url.searchParams.get('limit') ?? 200), 1000);
  const offset = Number(rq.url.searchParams.get('offset') ?? 0);
  const fields = rq.url.searchParams.get('fields')?.split(',').filter(Boolean);
  const data = visible
    .slice(offset, offset + limit)
    .map((r) => (fields ? Object.fromEntries(fields.map((f) => [f, r[f] ?? null])) : r));
  rq.ok({ responseDetails: { limit, offset, size: data.length, total: visible.length }, data });
}

/** Tasks the caller may see: on records the caller can see. */
function visibleTasks(rq: Rq, st: SimState) {
  const objectRows = (name: unknown) => st.seed.objects[str(name)] ?? [];
  return st.seed.tasks.filter((t) => objectRows(t.object__v).some((r) => r.id === t.record_id__v && canSee(rq.me, r)));
}

function workflowTasks(rq: Rq, st: SimState) {
  const sp = rq.url.searchParams;
  const assigneeParam = sp.get('assignee__v');
  const object = sp.get('object__v');
  const record = sp.get('record_id__v');
  if (!assigneeParam && !(object && record))
    return rq.fail('PARAMETER_REQUIRED', 'Missing required parameter [assignee__v] or [object__v, record_id__v]');
  const assignee = assigneeParam === 'me()' ? String(rq.me.id) : assigneeParam;
  const statuses = sp.get('status__v')?.split(',').filter(Boolean);
  const all = visibleTasks(rq, st).filter(
    (t) =>
      (!assignee || t.assignee__v === assignee) &&
      (!object || (t.object__v === object && t.record_id__v === record)) &&
      (!statuses || (t.status__v as string[]).some((s) => statuses.includes(s))),
  );
  const offset = Number(sp.get('offset') ?? 0);
  const pageSize = Math.min(Number(sp.get('page_size') ?? 200), 1000);
  rq.ok({
    responseDetails: {
      total: all.length,
      offset,
      page_size: pageSize,
      object: {
        name: 'objectworkflow_tasks',
        label: 'Object Workflow Task',
        url: `/api/${rq.version}${rq.path}${rq.url.search}`,
        label_plural: 'Object Workflow Tasks',
      },
    },
    data: all.slice(offset, offset + pageSize),
  });
}

function workflowTask(rq: Rq, st: SimState) {
  const task = visibleTasks(rq, st).find((t) => String(t.id) === rq.m[1]);
  // Simulator choice: a task on a record the caller cannot see answers like a missing one.
  if (!task) return rq.fail('INVALID_DATA', `Invalid task id [${rq.m[1]}]`);
  rq.ok({
    responseDetails: {
      url: `/api/${rq.version}/objects/objectworkflows/tasks/${rq.m[1]}`,
      object: {
        name: 'objectworkflow_tasks',
        label: 'Object Workflow Task',
        url: `/api/${rq.version}/metadata/objectworkflows/tasks`,
        label_plural: 'Object Workflow Tasks',
      },
    },
    data: [task],
  });
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

/** Vault names itself by the DNS it was called on (vaultIds, delegations); links use an internal host. */
function dnsOf(rq: Rq): string {
  return rq.req.headers.host ?? rq.url.host;
}
