/**
 * The MCP surface beyond tools: resource templates (`vault://documents/{id}`,
 * `vault://objects/{object}/{id}`), prompts users ask for, and completions for arguments that name
 * document types, objects, fields and picklist values. Each is a registration function that
 * createMcpServer calls on the per-request server, gated by the caller's scopes like tools.
 *
 * Resource reads follow the tools' rules: the caller's own Vault identity (through the session
 * manager), scope `vault:read`, and one audit row per read (tool `resources/read`, the URI, the
 * outcome). Completions are best effort (a Vault failure completes nothing) and are not audited: they
 * fire per keystroke and only read metadata.
 *
 * @module
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CompleteRequestSchema,
  ErrorCode,
  McpError,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { CallContext } from '../context/call-context.js';
import { actedAs } from '../context/call-context.js';
import { dbUnavailable } from '../db/unavailable.js';
import { isAppError } from '../errors/index.js';
import type { SessionManager } from '../vault/session-manager.js';
import { VAULT_NAME_RE } from '../vault/vql.js';
import { fromAuthInfo } from './context.js';
import type { ToolHooks } from './tool.js';
import { TEXT_PAGE_DEFAULT } from './tools/documents-read.js';
import type { Metadata } from './tools/metadata.js';
import { RECORD_ID_RE } from './tools/records.js';

export interface SurfaceDeps {
  sessions: Pick<SessionManager, 'withSession'>;
  metadata: Metadata;
}

/** What createMcpServer needs to add resources, prompts and completions. */
export interface McpSurface {
  register(server: McpServer, scopes: readonly string[], hooks: ToolHooks): void;
}

const READ = 'vault:read';

/**
 * @example
 * const surface = createVaultSurface({ sessions, metadata });
 * createMcpServer({ tools, scopes, surface });
 */
export function createVaultSurface(deps: SurfaceDeps): McpSurface {
  return {
    register(server, scopes, hooks) {
      if (!scopes.includes(READ)) return;
      registerResources(server, deps, hooks);
      registerPrompts(server);
      registerCompletions(server, deps);
    },
  };
}

/** A failed read as a JSON-RPC error: our stable code and safe message, never a stack. */
function readError(e: unknown): McpError {
  if (!isAppError(e)) return new McpError(ErrorCode.InternalError, 'ERR_INTERNAL: the read failed unexpectedly');
  const invalid = e.code === 'ERR_INVALID_ARGUMENT' || e.code === 'ERR_VAULT_INVALID_REQUEST';
  // -32002: resource not found (MCP); Vault answers INVALID_DATA for missing and hidden alike.
  return new McpError(invalid ? -32002 : ErrorCode.InternalError, `${e.code}: ${e.message}`);
}

// Built once per process: the surface is registered on every per-request server, and building zod
// schemas and parsing URI templates there cost ~0.16 ms per request (most of createMcpServer).
// Both are immutable once built (a template holds no per-caller state).
const DOCUMENT_TEMPLATE = new ResourceTemplate('vault://documents/{id}', { list: undefined });
const OBJECT_RECORD_TEMPLATE = new ResourceTemplate('vault://objects/{object}/{id}', { list: undefined });

export function registerResources(server: McpServer, deps: SurfaceDeps, hooks: ToolHooks): void {
  /** Read under the tools' audit rule: one row per read, with the Vault user and outcome. */
  const audited = async (
    name: string,
    uri: URL,
    ctxInfo: Parameters<typeof fromAuthInfo>[0],
    objects: string[],
    read: (ctx: CallContext) => Promise<{ value: ReadResourceResult; vaultUser?: string }>,
  ): Promise<ReadResourceResult> => {
    const started = performance.now();
    let errorCode: string | undefined;
    let vaultUser: string | undefined;
    try {
      const out = await read(fromAuthInfo(ctxInfo));
      vaultUser = out.vaultUser;
      return out.value;
    } catch (thrown) {
      vaultUser = actedAs(thrown);
      const e = dbUnavailable(thrown) ?? thrown;
      errorCode = isAppError(e) ? e.code : 'ERR_INTERNAL';
      hooks.onError?.(`resources/read:${name}`, e);
      throw readError(e);
    } finally {
      await hooks.onCall?.({
        tool: 'resources/read',
        args: { uri: uri.href.slice(0, 300) },
        outcome: errorCode ? 'error' : 'ok',
        errorCode,
        latencyMs: performance.now() - started,
        vaultUser,
        objects,
      });
    }
  };
  const bad = (what: string) => new McpError(ErrorCode.InvalidParams, `ERR_INVALID_ARGUMENT: ${what}`);

  server.registerResource(
    'document',
    DOCUMENT_TEMPLATE,
    {
      title: 'Vault document',
      description: `A document's fields and versions (application/json) and the text of its latest version (text/plain, first ${TEXT_PAGE_DEFAULT} characters; documents_read_text pages through the rest).`,
      mimeType: 'application/json',
    },
    (uri, vars, extra) => {
      const id = String(vars.id);
      if (!/^\d{1,12}$/.test(id))
        throw bad(`'id' must be a document id (digits), got ${JSON.stringify(id.slice(0, 40))}`);
      return audited('document', uri, extra.authInfo, [`documents/${id}`], (ctx) =>
        deps.sessions.withSession(ctx, async (s) => {
          const doc = await s.client.getDocument(s.sessionId, Number(id));
          const d = (doc.document ?? {}) as Record<string, unknown>;
          let text: string;
          try {
            text = await s.client.documentVersionText(
              s.sessionId,
              Number(id),
              Number(d.major_version_number__v ?? 0),
              Number(d.minor_version_number__v ?? 0),
            );
          } catch {
            text = ''; // a document without text (e.g. an image) still has its fields
          }
          const cut = text.length > TEXT_PAGE_DEFAULT;
          return {
            contents: [
              { uri: uri.href, mimeType: 'application/json', text: JSON.stringify(doc, null, 2) },
              {
                uri: `${uri.href}#text`,
                mimeType: 'text/plain',
                text: cut
                  ? `${text.slice(0, TEXT_PAGE_DEFAULT)}\n…[truncated: ${text.length - TEXT_PAGE_DEFAULT} more characters; use documents_read_text with offset ${TEXT_PAGE_DEFAULT}]`
                  : text,
              },
            ],
          };
        }),
      );
    },
  );

  server.registerResource(
    'object_record',
    OBJECT_RECORD_TEMPLATE,
    {
      title: 'Vault object record',
      description: 'One object record (e.g. vault://objects/deviation__c/V0D000000000201) with its fields.',
      mimeType: 'application/json',
    },
    (uri, vars, extra) => {
      const object = String(vars.object);
      const id = String(vars.id);
      if (!VAULT_NAME_RE.test(object)) throw bad(`'object' must be a Vault API name like deviation__c`);
      if (!RECORD_ID_RE.test(id)) throw bad(`'id' must be a Vault record id`);
      return audited('object_record', uri, extra.authInfo, [`${object}/${id}`], (ctx) =>
        deps.sessions.withSession(ctx, async (s) => {
          const r = await s.client.getObjectRecord(s.sessionId, object, id);
          return {
            contents: [
              {
                uri: uri.href,
                mimeType: 'application/json',
                text: JSON.stringify({ object, label: r.object.label ?? null, record: r.data }, null, 2),
              },
            ],
          };
        }),
      );
    },
  );
}

const text = (t: string) => ({ messages: [{ role: 'user' as const, content: { type: 'text' as const, text: t } }] });

/** The prompts' argument shapes, built once per process (see DOCUMENT_TEMPLATE). */
const PROMPT_ARGS = {
  find_documents: {
    topic: z.string().min(1).max(200).describe('What the documents should mention, e.g. "sterilisation"'),
    type: z.string().max(100).optional().describe('Document type label, e.g. "SOP" (completable)'),
  },
  review_document_history: {
    document_id: z
      .string()
      .regex(/^\d{1,12}$/, 'a document id (digits)')
      .describe('The document id'),
  },
  query_records: {
    object: z.string().regex(VAULT_NAME_RE, 'a Vault API name like deviation__c').describe('Object, e.g. deviation__c'),
    field: z.string().regex(VAULT_NAME_RE, 'a field API name').optional().describe('Field, e.g. status__v'),
    value: z.string().max(200).optional().describe('Value, e.g. open__c'),
  },
};

export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'find_documents',
    {
      title: 'Find and read documents about a topic',
      description:
        'Find the documents that mention a topic (e.g. SOPs about sterilisation), read the current one and say who approved it.',
      argsSchema: PROMPT_ARGS.find_documents,
    },
    (a) =>
      text(
        `Find the ${a.type ? `${a.type} documents` : 'documents'} in Vault that mention "${a.topic}": use documents_search with text "${a.topic}", scope "content"${a.type ? `, type "${a.type}"` : ''}. ` +
          'List them with number, name, status and version. Pick the current one (status Effective; else the newest approved version), ' +
          'read it with documents_read_text (continue with next_offset while needed) and summarise what it says about the topic, quoting the relevant passage. ' +
          'Then use documents_audit_trail with events ["TaskCompletion", "ChangeState"] to say who approved it and when (entries with a signature_meaning). ' +
          'Say plainly when something is not in Vault; do not guess.',
      ),
  );
  server.registerPrompt(
    'review_document_history',
    {
      title: "Review a document's history",
      description:
        "Summarise a document's history: versions, state changes, reviews, approvals and edits, with who and when.",
      argsSchema: PROMPT_ARGS.review_document_history,
    },
    (a) =>
      text(
        `Review the history of Vault document ${a.document_id}. Get it with documents_get, then page through documents_audit_trail (id ${a.document_id}) using next_offset. ` +
          'Give a dated timeline of state changes, workflow tasks (reviews, approvals with their signature meaning) and field edits (old → new), naming the user for each. ' +
          'End with the current state and version, and anything unusual (e.g. approval without review, edits after approval).',
      ),
  );
  server.registerPrompt(
    'summarize_my_tasks',
    {
      title: 'Summarise my open tasks',
      description: 'List your open workflow tasks, most urgent first, with what each needs from you.',
      argsSchema: {},
    },
    () =>
      text(
        'Use workflows_get_tasks (assignee "me", status ["available__v", "assigned__v"]) to list my open workflow tasks. ' +
          'For each, get the details with workflows_get_task and the record it is on with objects_get. ' +
          'Summarise them most urgent first (due date), one line each: task, record, due date, and what I need to do (from the instructions).',
      ),
  );
  server.registerPrompt(
    'query_records',
    {
      title: 'Find object records',
      description:
        'Find records of a Vault object where a field has a value, e.g. open deviations (object, field and value are completable).',
      argsSchema: PROMPT_ARGS.query_records,
    },
    (a) =>
      text(
        `Find ${a.object} records${a.field && a.value ? ` where ${a.field} = "${a.value}"` : ''}. ` +
          `Check the fields with metadata_object_fields (object ${a.object}) first, then call objects_query with object "${a.object}"` +
          `${a.field && a.value ? `, filters [{ "field": "${a.field}", "op": "=", "value": "${a.value}" }]` : ''} and useful fields. ` +
          'Present the records as a table and say how many there are in total.',
      ),
  );
}

const MAX_COMPLETIONS = 100;

/** completion/complete: our own handler, because completers need the caller's context (Vault identity). */
export function registerCompletions(server: McpServer, deps: SurfaceDeps): void {
  server.server.registerCapabilities({ completions: {} });
  server.server.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
    const { ref, argument, context } = req.params;
    const args = context?.arguments ?? {};
    const ctx = fromAuthInfo(extra.authInfo);
    const md = deps.metadata;
    const key =
      ref.type === 'ref/prompt' ? `prompt:${ref.name}:${argument.name}` : `resource:${ref.uri}:${argument.name}`;
    let candidates: () => Promise<string[]>;
    switch (key) {
      case 'prompt:find_documents:type':
        candidates = async () => (await md.documentTypes(ctx)).value.map((t) => t.label);
        break;
      case 'prompt:query_records:object':
      case 'resource:vault://objects/{object}/{id}:object':
        candidates = async () => (await md.objects(ctx)).value.map((o) => o.name);
        break;
      case 'prompt:query_records:field':
        candidates = async () =>
          VAULT_NAME_RE.test(args.object ?? '')
            ? (await md.objectFields(ctx, args.object!)).value.map((f) => String(f.name as string))
            : [];
        break;
      case 'prompt:query_records:value':
        candidates = async () => {
          if (!VAULT_NAME_RE.test(args.object ?? '') || !args.field) return [];
          const f = (await md.objectFields(ctx, args.object!)).value.find((x) => x.name === args.field);
          const picklist = typeof f?.picklist === 'string' ? f.picklist : undefined;
          return picklist ? (await md.picklist(ctx, picklist)).value.map((v) => v.name) : [];
        };
        break;
      default:
        // Unknown references complete to nothing rather than failing (completion is a convenience).
        candidates = () => Promise.resolve([]);
    }
    let all: string[];
    try {
      all = await candidates();
    } catch {
      all = [];
    }
    const typed = argument.value.toLowerCase();
    const starts = all.filter((v) => v.toLowerCase().startsWith(typed));
    const contains = all.filter((v) => !v.toLowerCase().startsWith(typed) && v.toLowerCase().includes(typed));
    const values = [...starts, ...contains];
    return {
      completion: {
        values: values.slice(0, MAX_COMPLETIONS),
        total: values.length,
        hasMore: values.length > MAX_COMPLETIONS,
      },
    };
  });
}
