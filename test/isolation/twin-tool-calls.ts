/**
 * The tool calls the twin-tenant test replays as each tenant. EVERY tool the server offers must have at
 * least one entry here (the test fails otherwise): when you add a tool, add a call that reaches its
 * data, using `ctx.mark` (this tenant's canary) and one that aims at the twin (`ctx.otherMark`,
 * `ctx.otherDocId`, `ctx.otherRecordId`), so a cross-tenant read would surface the twin's canary.
 */
export interface TwinContext {
  /** This tenant's canary: in its database rows and in its own Vault (document names, a record, a task). */
  mark: string;
  /** The twin's canary: must never appear in any response, error or log line of this tenant. */
  otherMark: string;
  /** A document only this tenant's Vault has. */
  docId: number;
  /** A document only the twin's Vault has. */
  otherDocId: number;
  /** A deviation__c record only this tenant's Vault has. */
  recordId: string;
  otherRecordId: string;
}

/**
 * What the answer must show, so no call passes vacuously:
 * - `own`: a result (not an error) containing this tenant's canary;
 * - `empty`: a result with `total` 0 (the twin's data is not found);
 * - `not_found`: a tool error that says the id does not exist, word for word what an id that exists
 *   nowhere gets (no existence oracle), and never a permission error;
 * - `ok`: a result, not an error.
 */
export type TwinExpect = 'own' | 'empty' | 'not_found' | 'ok';

export interface TwinCall {
  name: string;
  arguments: (ctx: TwinContext) => Record<string, unknown>;
  expect: TwinExpect;
}

const vqlLike = (mark: string) => `SELECT id, name__v FROM documents WHERE name__v LIKE '%${mark}%'`;

export const TWIN_TOOL_CALLS: TwinCall[] = [
  { name: 'whoami', arguments: () => ({}), expect: 'ok' },
  { name: 'documents_query', arguments: (c) => ({ name_contains: c.mark, page_size: 50 }), expect: 'own' },
  { name: 'documents_query', arguments: (c) => ({ name_contains: c.otherMark }), expect: 'empty' },
  { name: 'documents_get', arguments: (c) => ({ id: c.docId }), expect: 'own' },
  { name: 'documents_get', arguments: (c) => ({ id: c.otherDocId }), expect: 'not_found' },
  { name: 'vql_query', arguments: (c) => ({ q: vqlLike(c.mark) }), expect: 'own' },
  { name: 'vql_query', arguments: (c) => ({ q: vqlLike(c.otherMark) }), expect: 'empty' },
  {
    name: 'vql_query',
    arguments: (c) => ({ q: `SELECT id, name__v FROM documents WHERE id = ${c.otherDocId}` }),
    expect: 'empty',
  },
  { name: 'objects_query', arguments: () => ({ object: 'deviation__c', fields: ['id', 'name__v'] }), expect: 'own' },
  {
    name: 'objects_query',
    arguments: (c) => ({
      object: 'deviation__c',
      fields: ['id', 'name__v'],
      filters: [{ field: 'id', op: '=', value: c.otherRecordId }],
    }),
    expect: 'empty',
  },
  { name: 'workflows_get_tasks', arguments: () => ({}), expect: 'own' },
  {
    name: 'workflows_get_tasks',
    arguments: (c) => ({ object: 'deviation__c', record_id: c.otherRecordId }),
    expect: 'empty',
  },
  { name: 'documents_search', arguments: (c) => ({ text: c.mark, scope: 'all' }), expect: 'own' },
  { name: 'documents_search', arguments: (c) => ({ text: c.otherMark, scope: 'all' }), expect: 'empty' },
  { name: 'documents_read_text', arguments: (c) => ({ id: c.docId }), expect: 'own' },
  { name: 'documents_read_text', arguments: (c) => ({ id: c.otherDocId }), expect: 'not_found' },
  { name: 'documents_audit_trail', arguments: (c) => ({ id: c.docId }), expect: 'ok' },
  { name: 'documents_audit_trail', arguments: (c) => ({ id: c.otherDocId }), expect: 'not_found' },
  { name: 'documents_lifecycle_actions', arguments: (c) => ({ id: c.docId }), expect: 'ok' },
  { name: 'documents_lifecycle_actions', arguments: (c) => ({ id: c.otherDocId }), expect: 'not_found' },
  // Without confirm: true nothing is written; the answer only asks for confirmation.
  { name: 'documents_lifecycle_run', arguments: (c) => ({ id: c.docId, action: 'make_obsolete__c' }), expect: 'ok' },
  {
    name: 'documents_lifecycle_run',
    arguments: (c) => ({ id: c.otherDocId, action: 'make_obsolete__c', confirm: true }),
    expect: 'not_found',
  },
  { name: 'objects_get', arguments: (c) => ({ object: 'deviation__c', id: c.recordId }), expect: 'own' },
  { name: 'objects_get', arguments: (c) => ({ object: 'deviation__c', id: c.otherRecordId }), expect: 'not_found' },
  // The canary task's id is the canary document's id + 1 (see canarySeed).
  { name: 'workflows_get_task', arguments: (c) => ({ id: c.docId + 1 }), expect: 'own' },
  { name: 'workflows_get_task', arguments: (c) => ({ id: c.otherDocId + 1 }), expect: 'not_found' },
  { name: 'metadata_document_types', arguments: () => ({}), expect: 'ok' },
  { name: 'metadata_document_fields', arguments: () => ({}), expect: 'ok' },
  { name: 'metadata_objects', arguments: () => ({}), expect: 'ok' },
  { name: 'metadata_object_fields', arguments: () => ({ object: 'deviation__c' }), expect: 'ok' },
  { name: 'picklists_get', arguments: () => ({ name: 'severity__c' }), expect: 'ok' },
  {
    name: 'documents_update',
    arguments: (c) => ({ id: c.docId, fields: { description__v: 'reviewed' } }),
    expect: 'ok',
  },
  {
    name: 'documents_update',
    arguments: (c) => ({ id: c.otherDocId, fields: { title__v: 'overwritten' } }),
    expect: 'not_found',
  },
];
