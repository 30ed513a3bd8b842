/**
 * `objects_query`: records of a Vault object (deviations, CAPAs, products…) with structured filters,
 * turned into VQL safely (names checked against Vault's name pattern, literals escaped).
 *
 * @module
 */
import { z } from 'zod';
import { buildVql, VAULT_NAME_RE, VQL_OPERATORS } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { pagedQuery, pageOut, pagingInput, READ_ONLY, type VaultToolDeps } from './shared.js';

const vaultName = z.string().regex(VAULT_NAME_RE, 'a Vault API name like deviation__c or status__v');
const value = z.union([z.string().max(500), z.number(), z.boolean()]);

/** @example const tool = createObjectsQuery({ sessions }); */
export function createObjectsQuery(deps: VaultToolDeps): ToolDef {
  return defineTool({
    name: 'objects_query',
    title: 'Query object records',
    description:
      'List records of a Vault object (e.g. deviation__c, product__v) you can see, with optional filters. Pass next_page to continue.',
    scopes: ['vault:read'],
    input: {
      object: vaultName.describe('Object API name, e.g. deviation__c'),
      fields: z.array(vaultName).min(1).max(50).default(['id', 'name__v']),
      filters: z
        .array(
          z
            .object({
              field: vaultName,
              op: z.enum(VQL_OPERATORS),
              value: z.union([value, z.array(value).min(1).max(100)]),
            })
            .strict(),
        )
        .max(10)
        .default([]),
      order_by: vaultName.optional(),
      ...pagingInput,
    },
    output: pageOut('records'),
    annotations: READ_ONLY,
    async run(a, ctx) {
      return pagedQuery(
        deps,
        ctx,
        'records',
        a.next_page,
        () =>
          buildVql({
            from: a.object,
            fields: a.fields,
            filters: a.filters,
            orderBy: a.order_by ? { field: a.order_by, desc: a.descending } : undefined,
            pageSize: a.page_size,
          }),
        a.object,
      );
    },
  });
}
