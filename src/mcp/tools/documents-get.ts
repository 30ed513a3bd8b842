/**
 * `documents_get`: one document's fields, versions and renditions.
 *
 * @module
 */
import { z } from 'zod';
import { defineTool, type ToolDef } from '../tool.js';
import { READ_ONLY, recordOut, type VaultToolDeps } from './shared.js';

/** @example const tool = createDocumentsGet({ sessions }); */
export function createDocumentsGet(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_get',
    title: 'Get a document',
    description: 'Retrieve the metadata, versions and renditions of one Vault document by its id.',
    scopes: ['vault:read'],
    input: { id: z.number().int().positive().describe('The document id') },
    output: { document: recordOut, versions: z.array(recordOut).optional(), renditions: recordOut.optional() },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const out = await deps.sessions.withSession(ctx, (s) => s.client.getDocument(s.sessionId, a.id));
      return { ...out, objects: [`documents/${a.id}`] };
    },
  });
}
