/**
 * `vql_query`: run a caller-written VQL query, read-only: exactly one SELECT statement, checked
 * before anything is sent to Vault. Pagination is capped (rows and pages) so one call cannot page
 * through a whole Vault.
 *
 * @module
 */
import { z } from 'zod';
import { assertReadOnlyVql } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { nextPageInput, READ_ONLY, recordOut, touched, type VaultToolDeps } from './shared.js';

export const VQL_MAX_PAGES = 5;

/** @example const tool = createVqlQuery({ sessions }); */
export function createVqlQuery(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'vql_query',
    title: 'Run a VQL query',
    description:
      'Run a read-only Vault Query Language (VQL) SELECT statement as yourself. Returns up to max_rows rows; pass next_page to continue.',
    scopes: ['vault:read', 'vault:vql'],
    input: {
      q: z
        .string()
        .min(1)
        .max(50_000)
        .describe("One VQL SELECT statement, e.g. SELECT id, name__v FROM documents WHERE status__v = 'Effective'"),
      max_rows: z.number().int().min(1).max(1000).default(200),
      next_page: nextPageInput,
    },
    output: {
      total: z.number(),
      returned: z.number(),
      rows: z.array(recordOut),
      next_page: z.string().nullable(),
      truncated: z.boolean(),
    },
    annotations: READ_ONLY,
    async run(a, ctx, io) {
      const q = a.next_page ? undefined : assertReadOnlyVql(a.q);
      const out = await deps.sessions.withSession(ctx, async (s) => {
        let page = q ? await s.client.query(s.sessionId, q) : await s.client.queryPage(s.sessionId, a.next_page!);
        const start = page.responseDetails.pageoffset ?? 0;
        const rows = [...page.data];
        const want = Math.min(a.max_rows, page.responseDetails.total - start);
        await io?.progress?.(Math.min(rows.length, want), want, 'page 1');
        for (let n = 1; rows.length < a.max_rows && page.responseDetails.next_page && n < VQL_MAX_PAGES; n++) {
          page = await s.client.queryPage(s.sessionId, page.responseDetails.next_page);
          rows.push(...page.data);
          await io?.progress?.(Math.min(rows.length, want), want, `page ${n + 1}`);
        }
        let next = page.responseDetails.next_page ?? null;
        if (rows.length > a.max_rows) {
          // We cut a page short: resume exactly after the last row returned, not after the page.
          const template = next ?? page.responseDetails.previous_page;
          next =
            template && /[?&]pageoffset=\d+/.test(template)
              ? template.replace(/([?&]pageoffset=)\d+/, `$1${start + a.max_rows}`)
              : null;
        }
        return {
          total: page.responseDetails.total,
          returned: Math.min(rows.length, a.max_rows),
          rows: rows.slice(0, a.max_rows),
          next_page: next,
          // Rows were cut and Vault gave no page URL to resume from: add PAGESIZE or raise max_rows.
          truncated: rows.length > a.max_rows && next === null,
        };
      });
      return { ...out, objects: touched('rows', out.value.rows) };
    },
  });
}
