/**
 * `documents_get`: one document's fields, versions and renditions.
 *
 * @module
 */
import { z } from 'zod';
import { defineTool, type ToolDef } from '../tool.js';
import type { VaultToolDeps } from './shared.js';

/** @example const tool = createDocumentsGet({ sessions }); */
export function createDocumentsGet(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_get',
    title: 'Get a document',
    description: 'Retrieve the metadata, versions and renditions of one Vault document by its id.',
    scopes: ['vault:read'],
    input: { id: z.number().int().positive().describe('The document id') },
    annotations: { readOnlyHint: true, openWorldHint: true },
    async run(a, ctx) {
      return deps.sessions.withSession(ctx, (s) => s.client.getDocument(s.sessionId, a.id));
    },
  });
}
