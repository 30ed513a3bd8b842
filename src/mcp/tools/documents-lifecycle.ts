/**
 * Document user actions: `documents_lifecycle_actions` lists what the caller may run on a version
 * now; `documents_lifecycle_run` (`vault:write`) runs one by name after a confirmation step — an MCP
 * elicitation when the client supports it, otherwise an explicit `confirm: true` argument. Without
 * confirmation nothing is sent to Vault's write endpoint and the tool says what it would do.
 *
 * @module
 */
import { z } from 'zod';
import { VAULT_NAME_RE } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { resolveVersion } from './documents-read.js';
import { READ_ONLY, type VaultToolDeps } from './shared.js';

const docId = z.number().int().positive().describe('The document id');
const version = z
  .string()
  .regex(/^\d{1,4}\.\d{1,4}$/, 'a version like "0.1"')
  .optional()
  .describe('Version as "major.minor" (default: the latest version)');

const str = (v: unknown) => (typeof v === 'string' ? v : '');

const actionOut = z.object({
  name: z.string(),
  label: z.string(),
  type: z.string(),
  executable: z.boolean(),
});

/** Vault's user action in our shape (Vault sends `executable__v` as "true"/"false"). */
function shapeAction(a: Record<string, unknown>) {
  return {
    name: str(a.name__v),
    label: str(a.label__v),
    type: str(a.lifecycle_action_type__v),
    lifecycle: a.lifecycle__v,
    state: a.state__v,
    executable: a.executable__v === true || a.executable__v === 'true',
  };
}

/** @example const tool = createDocumentsLifecycleActions({ sessions }); */
export function createDocumentsLifecycleActions(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_lifecycle_actions',
    title: 'Document user actions',
    description:
      'List the user actions (state changes, workflows) on a document version and whether you may run each now (executable).',
    scopes: ['vault:read'],
    input: { id: docId, version },
    output: { id: z.number(), version: z.string(), actions: z.array(z.looseObject(actionOut.shape)) },
    annotations: READ_ONLY,
    async run(a, ctx) {
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const [major, minor] = await resolveVersion(s, a.id, a.version);
        const actions = await s.client.documentUserActions(s.sessionId, a.id, major, minor);
        return { id: a.id, version: `${major}.${minor}`, actions: actions.map(shapeAction) };
      });
      return { ...out, objects: [`documents/${a.id}/versions/${out.value.version}`] };
    },
  });
}

/** @example const tool = createDocumentsLifecycleRun({ sessions }); */
export function createDocumentsLifecycleRun(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_lifecycle_run',
    title: 'Run a document user action',
    description:
      'Run one user action (e.g. a state change such as "approve__c") on a document version, as yourself. Asks for confirmation first: through the client when it supports elicitation, otherwise call again with confirm: true after the user agreed.',
    scopes: ['vault:write'],
    input: {
      id: docId,
      version,
      action: z.string().regex(VAULT_NAME_RE, 'an action name like approve__c').describe('The action name'),
      confirm: z.boolean().optional().describe('true once the user confirmed (when the client cannot ask itself)'),
    },
    output: {
      id: z.number(),
      version: z.string(),
      action: z.string(),
      status: z.enum(['done', 'confirmation_required', 'cancelled']),
      label: z.string().optional(),
      workflow_id: z.string().optional(),
      message: z.string().optional(),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    async run(a, ctx, io) {
      const out = await deps.sessions.withSession(ctx, async (s) => {
        const [major, minor] = await resolveVersion(s, a.id, a.version);
        const v = `${major}.${minor}`;
        const base = { id: a.id, version: v, action: a.action };
        // Check first (cheap, read-only): an unknown or not-executable action never reaches the PUT.
        const available = (await s.client.documentUserActions(s.sessionId, a.id, major, minor)).map(shapeAction);
        const found = available.find((x) => x.name === a.action);
        if (!found || !found.executable) {
          const names = available.filter((x) => x.executable).map((x) => x.name);
          return {
            ...base,
            status: 'cancelled' as const,
            message: found
              ? `You may not run ${a.action} on document ${a.id} v${v}.`
              : `No user action ${a.action} on document ${a.id} v${v}; available: ${names.join(', ') || 'none'}.`,
          };
        }
        const what = `Run "${found.label}" (${a.action}) on document ${a.id} version ${v}?`;
        let confirmed = a.confirm === true;
        if (!confirmed && io?.elicit) {
          const answer = await io.elicit({
            mode: 'form',
            message: what,
            requestedSchema: {
              type: 'object',
              properties: { confirm: { type: 'boolean', title: 'Confirm', description: what } },
              required: ['confirm'],
            },
          });
          if (answer.action !== 'accept' || answer.content?.confirm !== true)
            return { ...base, label: found.label, status: 'cancelled' as const, message: 'The user declined.' };
          confirmed = true;
        }
        if (!confirmed)
          return {
            ...base,
            label: found.label,
            status: 'confirmation_required' as const,
            message: `${what} Nothing was changed. Ask the user, then call again with confirm: true.`,
          };
        const r = await s.client.initiateDocumentUserAction(s.sessionId, a.id, major, minor, a.action);
        return {
          ...base,
          label: found.label,
          status: 'done' as const,
          ...(r.workflowId ? { workflow_id: r.workflowId } : {}),
        };
      });
      return { ...out, objects: [`documents/${a.id}/versions/${out.value.version}/actions/${a.action}`] };
    },
  });
}
