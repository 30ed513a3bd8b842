/**
 * One record: `objects_get` (an object record with its fields) and `workflows_get_task` (one task with
 * its details and instructions).
 *
 * @module
 */
import { z } from 'zod';
import { VaultError } from '../../vault/errors.js';
import { VAULT_NAME_RE } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { READ_ONLY, recordOut, type VaultToolDeps } from './shared.js';

/** Object record ids: Vault's 15/18-character alphanumeric ids. */
export const RECORD_ID_RE = /^[A-Za-z0-9]{1,40}$/;

/** @example const tool = createObjectsGet({ sessions }); */
export function createObjectsGet(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'objects_get',
    title: 'Get an object record',
    description:
      'Retrieve one Vault object record (e.g. a deviation__c) with its fields, by object name and record id.',
    scopes: ['vault:read'],
    input: {
      object: z.string().regex(VAULT_NAME_RE, 'a Vault API name like deviation__c').describe('Object API name'),
      id: z.string().regex(RECORD_ID_RE, 'a Vault record id like V0D000000000201').describe('Record id'),
    },
    output: { object: z.string(), label: z.string().nullable(), record: recordOut },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const r = await s.client.getObjectRecord(s.sessionId, a.object, a.id);
        return { object: a.object, label: (r.object.label as string | undefined) ?? null, record: r.data };
      });
      return { ...out, objects: [`${a.object}/${a.id}`] };
    },
  });
}

/** @example const tool = createWorkflowsGetTask({ sessions }); */
export function createWorkflowsGetTask(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'workflows_get_task',
    title: 'Get a workflow task',
    description:
      'Retrieve one workflow task by id: its label, status, instructions, assignee, due date and the record it is on.',
    scopes: ['vault:read'],
    input: { id: z.number().int().positive().describe('The task id (from workflows_get_tasks)') },
    output: { task: recordOut },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const task = await s.client.workflowTask(s.sessionId, a.id);
        if (!task) throw new VaultError('ERR_VAULT_INVALID_REQUEST', 'INVALID_DATA', `No task ${a.id}`);
        return { task };
      });
      return { ...out, objects: [`objectworkflows/tasks/${a.id}`] };
    },
  });
}
