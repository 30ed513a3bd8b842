/**
 * Pieces shared by the Vault tools: their dependencies, pagination-token input and output shaping.
 *
 * @module
 */
import { z } from 'zod';
import type { CallContext } from '../../context/call-context.js';
import type { SessionManager } from '../../vault/session-manager.js';
import type { MetadataCache } from './metadata-cache.js';

export interface VaultToolDeps {
  sessions: Pick<SessionManager, 'withSession'>;
  /** Per-tenant metadata cache (document types, fields, objects, picklists); one is made when absent. */
  metadata?: MetadataCache;
}

/** A Vault record as tools return it. */
export const recordOut = z.record(z.string(), z.unknown());

/** The output shape of a VQL page (see {@link pageResult}). */
export function pageOut(key: string) {
  return {
    total: z.number(),
    returned: z.number(),
    [key]: z.array(recordOut),
    next_page: z.string().nullable(),
  };
}

/** Annotations of a tool that only reads from Vault. */
export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
} as const;

/**
 * A `next_page` value returned by a previous call of the same tool: Vault's relative
 * `/api/vNN.N/query/…` path, or the same path as an absolute https URL (the client then checks that
 * the host is the tenant's own Vault).
 */
export const nextPageInput = z
  .string()
  .max(2000)
  .regex(
    /^(https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)?\/api\/v\d+\.\d+\/query\/[\w-]+\?[\w=&.-]*$/,
    'must be the next_page value returned by a previous call',
  )
  .optional()
  .describe('Continue a previous result: pass its next_page value (other inputs are then ignored)');

/** Shape a VQL page for tool output. */
export function pageResult(
  key: string,
  page: { responseDetails: { total: number; size: number; next_page?: string }; data: unknown[] },
) {
  return {
    total: page.responseDetails.total,
    returned: page.data.length,
    [key]: page.data,
    next_page: page.responseDetails.next_page ?? null,
  };
}

/** Paging inputs shared by the query tools. */
export const pagingInput = {
  descending: z.boolean().default(false),
  page_size: z.number().int().min(1).max(200).default(25),
  next_page: nextPageInput,
};

/**
 * Run a VQL query built by the tool (or continue one with `nextPage`) and shape the page. The query
 * is built before a session is taken, so invalid input never causes a Vault login.
 */
export async function pagedQuery(
  deps: VaultToolDeps,
  ctx: CallContext,
  key: string,
  nextPage: string | undefined,
  vql: () => string,
  /** How the audit names the rows (`documents`, or the object name); default `key`. */
  kind = key,
) {
  const q = nextPage ? undefined : vql();
  const out = await deps.sessions.withSession(ctx, async (s) =>
    pageResult(
      key,
      q === undefined ? await s.client.queryPage(s.sessionId, nextPage!) : await s.client.query(s.sessionId, q),
    ),
  );
  return { ...out, objects: touched(kind, out.value[key] as unknown[]) };
}

/** Audit names of the rows a call returned (`documents/101`), at most 20. */
export function touched(kind: string, rows: unknown[] | undefined): string[] {
  return (rows ?? [])
    .slice(0, 20)
    .map((r) => (r as { id?: unknown }).id)
    .filter((id): id is string | number => typeof id === 'string' || typeof id === 'number')
    .map((id) => `${kind}/${id}`);
}
