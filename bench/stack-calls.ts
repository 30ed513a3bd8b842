/**
 * The Vault calls of the stack benchmark, shared by the bare baseline and the checks: the bare
 * server must send Vault exactly the query our tools send.
 */
import { DEFAULT_FIELDS, DOCUMENT_FIELDS } from '../src/mcp/tools/documents-query.js';
import { buildVql } from '../src/vault/vql.js';

/** documents_query arguments the load generator sends. */
export const BENCH_DOCS_ARGS = { status: ['Effective'], page_size: 25 };

/** The VQL our documents_query builds for BENCH_DOCS_ARGS (default fields, no order). */
export const BENCH_DOCS_VQL = buildVql({
  from: 'documents',
  fields: DEFAULT_FIELDS,
  filters: [{ field: 'status__v', op: 'IN', value: BENCH_DOCS_ARGS.status }],
  pageSize: BENCH_DOCS_ARGS.page_size,
  allowedFields: DOCUMENT_FIELDS,
});

/** The query whoami sends for a Vault user id. */
export const whoamiVql = (id: string) => `SELECT id, user_name__v, user_email__v FROM users WHERE id = ${id}`;
