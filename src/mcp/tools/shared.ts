/**
 * Pieces shared by the Vault tools: their dependencies, pagination-token input and output shaping.
 *
 * @module
 */
import { z } from 'zod';
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
export function pageResult(key: string, page: { responseDetails: { total: number; size: number; next_page?: string }; data: unknown[] }) {
  return {
    total: page.responseDetails.total,
    returned: page.data.length,
    [key]: page.data,
    next_page: page.responseDetails.next_page ?? null,
  };
}
