/**
 * `workflows_get_tasks`: workflow tasks assigned to you (default), to a user, or on one record.
 *
 * @module
 */
import { z } from 'zod';
import { VAULT_NAME_RE } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { READ_ONLY, recordOut, touched, type VaultToolDeps } from './shared.js';

/** @example const tool = createWorkflowsGetTasks({ sessions }); */
export function createWorkflowsGetTasks(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'workflows_get_tasks',
    title: 'Get workflow tasks',
    description:
      "List workflow tasks: yours by default, another user's (assignee = Vault user id), or those on one object record.",
    scopes: ['vault:read'],
    input: {
      assignee: z
        .union([z.literal('me'), z.string().regex(/^\d{1,20}$/)])
        .optional()
        .describe('"me" (default) or a Vault user id'),
      object: z
        .string()
        .regex(VAULT_NAME_RE)
        .optional()
        .describe('Object name, with record_id, to list the tasks on one record'),
      record_id: z
        .string()
        .regex(/^[A-Za-z0-9]{1,40}$/)
        .optional(),
      status: z.array(z.string().regex(VAULT_NAME_RE)).min(1).max(10).optional().describe('e.g. ["available__v"]'),
      offset: z.number().int().min(0).max(100_000).default(0),
      page_size: z.number().int().min(1).max(200).default(50),
    },
    output: { total: z.number(), offset: z.number(), tasks: z.array(recordOut) },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const byRecord = Boolean(a.object && a.record_id);
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const page = await s.client.workflowTasks(s.sessionId, {
          assignee:
            byRecord && !a.assignee ? undefined : a.assignee === undefined || a.assignee === 'me' ? 'me()' : a.assignee,
          object: byRecord ? a.object : undefined,
          recordId: byRecord ? a.record_id : undefined,
          status: a.status,
          offset: a.offset,
          pageSize: a.page_size,
        });
        return { total: Number(page.responseDetails.total ?? page.data.length), offset: a.offset, tasks: page.data };
      });
      return { ...out, objects: touched('objectworkflows/tasks', out.value.tasks) };
    },
  });
}
