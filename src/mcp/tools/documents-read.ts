/**
 * Reading documents: `documents_search` (full-text VQL `FIND`, ranked, with the `documents_query`
 * filters), `documents_read_text` (a version's plain text in pages by character offset) and
 * `documents_audit_trail` (who did what, when).
 *
 * @module
 */
import { z } from 'zod';
import { buildVql, vqlString } from '../../vault/vql.js';
import type { VaultSession } from '../../vault/session-manager.js';
import { defineTool, type ToolDef } from '../tool.js';
import { DEFAULT_FIELDS, DOCUMENT_FIELDS, documentFilterInput, documentFilters } from './documents-query.js';
import { pagedQuery, pageOut, pagingInput, READ_ONLY, recordOut, type VaultToolDeps } from './shared.js';

/** Characters of text per `documents_read_text` call unless the caller asks for fewer (or more). */
export const TEXT_PAGE_DEFAULT = 20_000;
export const TEXT_PAGE_MAX = 40_000;

const docId = z.number().int().positive().describe('The document id');
const version = z
  .string()
  .regex(/^\d{1,4}\.\d{1,4}$/, 'a version like "1.0"')
  .optional()
  .describe('Version as "major.minor" (default: the latest version)');

/** The latest version of a document, as `[major, minor]`. */
export async function latestVersion(s: VaultSession, id: number): Promise<[number, number]> {
  const d = (await s.client.getDocument(s.sessionId, id)).document as Record<string, unknown> | undefined;
  return [Number(d?.major_version_number__v ?? 0), Number(d?.minor_version_number__v ?? 0)];
}

/** `"1.2"` → `[1, 2]`, else the latest version. */
export async function resolveVersion(s: VaultSession, id: number, v: string | undefined): Promise<[number, number]> {
  if (!v) return latestVersion(s, id);
  const [major, minor] = v.split('.').map(Number);
  return [major!, minor!];
}

/** @example const tool = createDocumentsSearch({ sessions }); */
export function createDocumentsSearch(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_search',
    title: 'Full-text search documents',
    description:
      'Search the text of Vault documents you can see (VQL FIND), best matches first, with the same filters as documents_query. scope "content" searches the document text, "properties" the fields, "all" both. Returns one page; pass next_page to continue.',
    scopes: ['vault:read'],
    input: {
      text: z.string().trim().min(1).max(500).describe('Words to search for, e.g. "sterilisation"'),
      scope: z.enum(['content', 'properties', 'all']).default('content'),
      ...documentFilterInput,
      fields: z.array(z.enum(DOCUMENT_FIELDS)).min(1).max(DOCUMENT_FIELDS.length).optional(),
      ...pagingInput,
    },
    output: pageOut('documents'),
    annotations: READ_ONLY,
    async run(a, ctx, io) {
      const out = await pagedQuery(deps, ctx, 'documents', a.next_page, () => {
        const fields = a.fields ?? DEFAULT_FIELDS;
        const select = buildVql({ from: 'documents', fields, allowedFields: DOCUMENT_FIELDS });
        const filters = documentFilters(a);
        const where = filters.length
          ? buildVql({ from: 'documents', fields: ['id'], filters, allowedFields: DOCUMENT_FIELDS }).slice(
              'SELECT id FROM documents'.length,
            )
          : '';
        // The phrase is one escaped string literal: quotes and backslashes cannot end it early.
        const find = ` FIND (${vqlString(a.text)} SCOPE ${a.scope.toUpperCase()})`;
        return `${select}${find}${where} ORDER BY RANK PAGESIZE ${a.page_size}`;
      });
      await io?.log('info', `documents_search: ${out.value.returned} of ${out.value.total} matches`);
      return out;
    },
  });
}

/** @example const tool = createDocumentsReadText({ sessions }); */
export function createDocumentsReadText(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_read_text',
    title: 'Read a document’s text',
    description: `Read the plain text of a document version (latest by default) in pages: up to max_chars characters (default ${TEXT_PAGE_DEFAULT}) from offset. Returns total_chars and next_offset (null at the end).`,
    scopes: ['vault:read'],
    input: {
      id: docId,
      version,
      offset: z.number().int().min(0).default(0).describe('Character offset to start at'),
      max_chars: z.number().int().min(100).max(TEXT_PAGE_MAX).default(TEXT_PAGE_DEFAULT),
    },
    output: {
      id: z.number(),
      version: z.string(),
      offset: z.number(),
      returned_chars: z.number(),
      total_chars: z.number(),
      next_offset: z.number().nullable(),
      text: z.string(),
    },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const [major, minor] = await resolveVersion(s, a.id, a.version);
        const all = await s.client.documentVersionText(s.sessionId, a.id, major, minor);
        const text = all.slice(a.offset, a.offset + a.max_chars);
        const end = a.offset + text.length;
        return {
          id: a.id,
          version: `${major}.${minor}`,
          offset: a.offset,
          returned_chars: text.length,
          total_chars: all.length,
          next_offset: end < all.length ? end : null,
          text,
        };
      });
      return { ...out, objects: [`documents/${a.id}/versions/${out.value.version}`] };
    },
  });
}

/** @example const tool = createDocumentsAuditTrail({ sessions }); */
export function createDocumentsAuditTrail(deps: VaultToolDeps): ToolDef {
  const dateTime = z.iso
    .datetime({ offset: false })
    .optional()
    .transform((v) => v?.replace(/\.\d+Z$/, 'Z'));
  return defineTool({
    name: 'documents_audit_trail',
    title: 'Document audit trail',
    description:
      "A document's audit history (who did what, when: views, field changes, state changes, workflow tasks and eSignatures), newest first, paged by offset.",
    scopes: ['vault:read'],
    input: {
      id: docId,
      start_date: dateTime.describe('Only events at or after this UTC time (ISO 8601, e.g. 2026-01-01T00:00:00Z)'),
      end_date: dateTime.describe('Only events at or before this UTC time'),
      events: z
        .array(z.string().regex(/^[A-Za-z]{1,60}$/, 'an event name like TaskCompletion'))
        .min(1)
        .max(20)
        .optional()
        .describe('Only these audit events (case-sensitive), e.g. ["TaskCompletion", "ChangeState"]'),
      offset: z.number().int().min(0).max(1_000_000).default(0),
      page_size: z.number().int().min(1).max(1000).default(50),
    },
    output: {
      id: z.number(),
      total: z.number(),
      offset: z.number(),
      returned: z.number(),
      next_offset: z.number().nullable(),
      entries: z.array(recordOut),
    },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const page = await s.client.documentAuditTrail(s.sessionId, a.id, {
          startDate: a.start_date,
          endDate: a.end_date,
          events: a.events,
          limit: a.page_size,
          offset: a.offset,
        });
        const total = Number(page.responseDetails.total ?? page.data.length);
        // Only what a reader needs: who, when, what, on which version, and what changed.
        const entries = page.data.map((e) =>
          Object.fromEntries(
            [
              'timestamp',
              'user_name',
              'full_name',
              'action',
              'event_description',
              'version',
              'field_name',
              'old_value',
              'new_value',
              'workflow_name',
              'task_name',
              'signature_meaning',
            ]
              .filter((k) => e[k] !== null && e[k] !== undefined && e[k] !== '')
              .map((k) => [k, e[k]]),
          ),
        );
        const next = a.offset + page.data.length;
        return {
          id: a.id,
          total,
          offset: a.offset,
          returned: entries.length,
          next_offset: next < total && page.data.length > 0 ? next : null,
          entries,
        };
      });
      return { ...out, objects: [`documents/${a.id}/audittrail`] };
    },
  });
}
