/**
 * The tool set. Vault tools close over the session manager.
 *
 * @module
 */
import { createVaultSurface, type McpSurface } from '../surface.js';
import type { ToolDef } from '../tool.js';
import { createDocumentsGet } from './documents-get.js';
import { createDocumentsLifecycleActions, createDocumentsLifecycleRun } from './documents-lifecycle.js';
import { createDocumentsAuditTrail, createDocumentsReadText, createDocumentsSearch } from './documents-read.js';
import { createMetadataCache } from './metadata-cache.js';
import { createMetadata, createMetadataTools, type Metadata } from './metadata.js';
import { createObjectsGet, createWorkflowsGetTask } from './records.js';
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
export function createVaultTools(deps: VaultToolDeps, md: Metadata = createMetadata(deps)): ToolDef[] {
  return [
    createWhoami(deps),
    createDocumentsQuery(deps),
    createDocumentsSearch(deps),
    createDocumentsGet(deps),
    createDocumentsReadText(deps),
    createDocumentsAuditTrail(deps),
    createDocumentsLifecycleActions(deps),
    createVqlQuery(deps),
    createObjectsQuery(deps),
    createObjectsGet(deps),
    createWorkflowsGetTasks(deps),
    createWorkflowsGetTask(deps),
    ...createMetadataTools(md),
    createDocumentsUpdate(deps),
    createDocumentsLifecycleRun(deps),
  ];
}

/**
 * The whole Vault MCP surface: the tools, and the resources, prompts and completions beside them,
 * sharing one metadata cache.
 *
 * @example
 * const { tools, surface } = createVaultMcp({ sessions });
 */
export function createVaultMcp(deps: VaultToolDeps): { tools: ToolDef[]; surface: McpSurface } {
  const metadata = createMetadata(deps);
  return { tools: createVaultTools(deps, metadata), surface: createVaultSurface({ ...deps, metadata }) };
}

export { createMetadata, createMetadataCache, createWhoami, whoami, type Metadata, type VaultToolDeps };
