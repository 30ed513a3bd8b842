/**
 * `documents_query`: search documents with structured filters. The VQL is built by us
 * (whitelisted fields, fixed operators, escaped literals), never taken from the caller.
 *
 * @module
 */
import { z } from 'zod';
import { buildVql, type VqlFilter } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { pagedQuery, pageOut, pagingInput, READ_ONLY, type VaultToolDeps } from './shared.js';

export const DOCUMENT_FIELDS = [
  'id',
  'name__v',
  'title__v',
  'document_number__v',
  'type__v',
  'subtype__v',
  'status__v',
  'lifecycle__v',
  'major_version_number__v',
  'minor_version_number__v',
  'product__v',
  'created_by__v',
  'document_creation_date__v',
  'version_modified_date__v',
] as const;

export const DEFAULT_FIELDS = [
  'id',
  'name__v',
  'document_number__v',
  'type__v',
  'status__v',
  'major_version_number__v',
  'minor_version_number__v',
  'version_modified_date__v',
];

/** The structured document filters `documents_query` and `documents_search` share. */
export const documentFilterInput = {
  name_contains: z.string().min(1).max(200).optional().describe('Text the document name contains'),
  type: z.string().min(1).max(100).optional().describe('Document type (type__v), e.g. "SOP"'),
  status: z
    .array(z.string().min(1).max(100))
    .min(1)
    .max(20)
    .optional()
    .describe('Any of these statuses (status__v), e.g. ["Effective"]'),
  product: z.string().min(1).max(100).optional().describe('Product (product__v)'),
  modified_after: z.iso.datetime().optional().describe('Only documents modified at or after this ISO 8601 time'),
};

/** VQL filters from the shared document filter inputs. */
export function documentFilters(a: {
  name_contains?: string;
  type?: string;
  status?: string[];
  product?: string;
  modified_after?: string;
}): VqlFilter[] {
  const filters: VqlFilter[] = [];
  if (a.name_contains) filters.push({ field: 'name__v', op: 'LIKE', value: `%${a.name_contains}%` });
  if (a.type) filters.push({ field: 'type__v', op: '=', value: a.type });
  if (a.status) filters.push({ field: 'status__v', op: 'IN', value: a.status });
  if (a.product) filters.push({ field: 'product__v', op: '=', value: a.product });
  if (a.modified_after) filters.push({ field: 'version_modified_date__v', op: '>=', value: a.modified_after });
  return filters;
}

/** @example const tool = createDocumentsQuery({ sessions }); */
export function createDocumentsQuery(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'documents_query',
    title: 'Search documents',
    description:
      'Find Vault documents you can see by name, type, status, product or modification date. Returns one page; pass next_page to continue.',
    scopes: ['vault:read'],
    input: {
      ...documentFilterInput,
      fields: z
        .array(z.enum(DOCUMENT_FIELDS))
        .min(1)
        .max(DOCUMENT_FIELDS.length)
        .optional()
        .describe('Fields to return'),
      order_by: z.enum(DOCUMENT_FIELDS).optional(),
      ...pagingInput,
    },
    output: pageOut('documents'),
    annotations: READ_ONLY,
    async run(a, ctx) {
      return pagedQuery(deps, ctx, 'documents', a.next_page, () => {
        return buildVql({
          from: 'documents',
          fields: a.fields ?? DEFAULT_FIELDS,
          filters: documentFilters(a),
          orderBy: a.order_by ? { field: a.order_by, desc: a.descending } : undefined,
          pageSize: a.page_size,
          allowedFields: DOCUMENT_FIELDS,
        });
      });
    },
  });
}
