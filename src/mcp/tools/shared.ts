/**
 * Pieces shared by the Vault tools: their dependencies, pagination-token input and output shaping.
 *
 * @module
 */
import { z } from 'zod';
import type { CallContext } from '../../context/call-context.js';
import type { SessionManager } from '../../vault/session-manager.js';

export interface VaultToolDeps {
  sessions: Pick<SessionManager, 'withSession'>;
}

/** A `next_page` value returned by a previous call of the same tool. */
export const nextPageInput = z
  .string()
  .max(2000)
  .regex(/^\/api\/v\d+\.\d+\/query\/[\w-]+\?[\w=&.-]*$/, 'must be the next_page value returned by a previous call')
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
) {
  const q = nextPage ? undefined : vql();
  return deps.sessions.withSession(ctx, async (s) =>
    pageResult(
      key,
      q === undefined ? await s.client.queryPage(s.sessionId, nextPage!) : await s.client.query(s.sessionId, q),
    ),
  );
}
