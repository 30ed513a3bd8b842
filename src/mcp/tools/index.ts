/**
 * The tool set. Vault tools close over the session manager.
 *
 * @module
 */
import type { ToolDef } from '../tool.js';
import { createDocumentsGet } from './documents-get.js';
import { createDocumentsQuery } from './documents-query.js';
import { createDocumentsUpdate } from './documents-update.js';
import { createObjectsQuery } from './objects-query.js';
import type { VaultToolDeps } from './shared.js';
import { createVqlQuery } from './vql-query.js';
import { createWhoami, whoami } from './whoami.js';
import { createWorkflowsGetTasks } from './workflows-get-tasks.js';

/**
 * Every tool, wired to a session manager.
 *
 * @example
 * const tools = createVaultTools({ sessions });
 */
export function createVaultTools(deps: VaultToolDeps): ToolDef[] {
  return [
    createWhoami(deps),
    createDocumentsQuery(deps),
    createDocumentsGet(deps),
    createVqlQuery(deps),
    createObjectsQuery(deps),
    createWorkflowsGetTasks(deps),
    createDocumentsUpdate(deps),
  ];
}

export { createWhoami, whoami, type VaultToolDeps };
