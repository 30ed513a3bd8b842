/**
 * `documents_update`: the write tool (scope `vault:write`). Updates a small whitelist of editable
 * fields on a document's latest version; Vault still enforces the user's own permissions.
 *
 * @module
 */
import { z } from 'zod';
import { defineTool, type ToolDef } from '../tool.js';
import type { VaultToolDeps } from './shared.js';

/** @example const tool = createDocumentsUpdate({ sessions }); */
export function createDocumentsUpdate(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_update',
    title: 'Update document fields',
    description:
      'Update the title or description of a Vault document (latest version). Vault checks that you may edit it.',
    scopes: ['vault:write'],
    input: {
      id: z.number().int().positive().describe('The document id'),
      fields: z
        .object({
          title__v: z.string().min(1).max(255).optional(),
          description__v: z.string().max(1500).optional(),
        })
        .strict()
        .refine((f) => Object.values(f).some((v) => v !== undefined), 'give at least one field to change'),
    },
    output: { updated: z.object({ id: z.number() }), fields: z.array(z.string()) },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run(a, ctx) {
      const fields = Object.fromEntries(Object.entries(a.fields).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >;
      const out = await deps.sessions.withSession(ctx, async (s) => ({
        updated: await s.client.updateDocument(s.sessionId, a.id, fields),
        fields: Object.keys(fields),
      }));
      return { ...out, objects: [`documents/${a.id}`] };
    },
  });
}
