/**
 * What the Vault contains, so the model can build correct queries: document types, document fields,
 * objects, an object's fields and picklist values. Answers are compact (names, labels, types; no
 * localized data or URLs) and cached per tenant, Vault and Vault user with a short TTL
 * (see metadata-cache.ts). Also the lookups behind completions.
 *
 * @module
 */
import { z } from 'zod';
import type { Acted, CallContext } from '../../context/call-context.js';
import type { VaultSession } from '../../vault/session-manager.js';
import { VAULT_NAME_RE } from '../../vault/vql.js';
import { defineTool, type ToolDef } from '../tool.js';
import { createMetadataCache, metadataKey, type MetadataCache } from './metadata-cache.js';
import { READ_ONLY, recordOut, type VaultToolDeps } from './shared.js';

const vaultName = (what: string) => z.string().regex(VAULT_NAME_RE, `a Vault API name like ${what}`);

/** Each lookup answers the value and the Vault user who acted (tools audit it). */
export interface Metadata {
  documentTypes(ctx: CallContext): Promise<Acted<{ name: string; label: string }[]>>;
  documentFields(ctx: CallContext): Promise<Acted<Record<string, unknown>[]>>;
  objects(ctx: CallContext): Promise<Acted<{ name: string; label: string; label_plural?: string }[]>>;
  objectFields(ctx: CallContext, object: string): Promise<Acted<Record<string, unknown>[]>>;
  picklist(ctx: CallContext, name: string): Promise<Acted<{ name: string; label: string }[]>>;
}

/** Metadata lookups through the session manager and the cache. */
export function createMetadata(deps: VaultToolDeps & { metadata?: MetadataCache }): Metadata {
  const cache = deps.metadata ?? createMetadataCache();
  const acted = <T>(ctx: CallContext, what: string, load: (s: VaultSession) => Promise<T>): Promise<Acted<T>> =>
    deps.sessions.withSession(ctx, (s) => cache.get(metadataKey(ctx.tenant!, s.vaultUserId, what), () => load(s)));
  const types = async (s: VaultSession) => {
    const body = await s.client.documentTypes(s.sessionId);
    return ((body.types as { label?: string; value?: string }[] | undefined) ?? []).map((t) => ({
      // The type's API name is the last segment of its metadata URL.
      name:
        String(t.value ?? '')
          .split('/')
          .pop() ?? '',
      label: String(t.label ?? ''),
    }));
  };
  const docFields = async (s: VaultSession) =>
    (await s.client.documentFields(s.sessionId)).map((f) =>
      pick(f, ['name', 'label', 'type', 'required', 'repeating', 'queryable', 'editable', 'picklist']),
    );
  const objects = async (s: VaultSession) =>
    (await s.client.objectCollection(s.sessionId)).map((o) => ({
      name: String(o.name as string),
      label: String(o.label as string),
      label_plural: o.label_plural as string | undefined,
    }));
  const objectFields = async (s: VaultSession, object: string) =>
    (((await s.client.objectMetadata(s.sessionId, object)).fields as Record<string, unknown>[] | undefined) ?? []).map(
      (f) => pick(f, ['name', 'label', 'type', 'required', 'picklist', 'object']),
    );
  return {
    documentTypes: (ctx) => acted(ctx, 'doctypes', types),
    documentFields: (ctx) => acted(ctx, 'docfields', docFields),
    objects: (ctx) => acted(ctx, 'objects', objects),
    objectFields: (ctx, object) => acted(ctx, `fields:${object}`, (s) => objectFields(s, object)),
    picklist: (ctx, name) => acted(ctx, `picklist:${name}`, (s) => s.client.picklistValues(s.sessionId, name)),
  };

  function pick(o: Record<string, unknown>, keys: string[]) {
    return Object.fromEntries(keys.filter((k) => o[k] !== undefined && o[k] !== null).map((k) => [k, o[k]]));
  }
}

/** The five metadata tools. */
export function createMetadataTools(md: Metadata): ToolDef[] {
  return [
    defineTool({
      name: 'metadata_document_types',
      title: 'Document types',
      description:
        'List the document types in this Vault (name and label); the label is what documents_query/documents_search take as type.',
      scopes: ['vault:read'],
      input: {},
      output: { types: z.array(z.object({ name: z.string(), label: z.string() })) },
      annotations: READ_ONLY,
      async run(_a, ctx) {
        const r = await md.documentTypes(ctx);
        return { value: { types: r.value }, vaultUser: r.vaultUser, objects: ['metadata/documents/types'] };
      },
    }),
    defineTool({
      name: 'metadata_document_fields',
      title: 'Document fields',
      description:
        'List the document fields you can see (name, label, type, whether queryable/editable, picklist name), to build document queries.',
      scopes: ['vault:read'],
      input: {},
      output: { fields: z.array(recordOut) },
      annotations: READ_ONLY,
      async run(_a, ctx) {
        const r = await md.documentFields(ctx);
        return { value: { fields: r.value }, vaultUser: r.vaultUser, objects: ['metadata/documents/properties'] };
      },
    }),
    defineTool({
      name: 'metadata_objects',
      title: 'Vault objects',
      description: 'List the Vault objects (name and label), e.g. deviation__c, product__v, to use with objects_query.',
      scopes: ['vault:read'],
      input: {},
      output: { objects: z.array(recordOut) },
      annotations: READ_ONLY,
      async run(_a, ctx) {
        const r = await md.objects(ctx);
        return { value: { objects: r.value }, vaultUser: r.vaultUser, objects: ['metadata/vobjects'] };
      },
    }),
    defineTool({
      name: 'metadata_object_fields',
      title: 'Object fields',
      description: "List an object's fields (name, label, type, picklist name), to build objects_query filters.",
      scopes: ['vault:read'],
      input: { object: vaultName('deviation__c').describe('Object API name') },
      output: { object: z.string(), fields: z.array(recordOut) },
      annotations: READ_ONLY,
      async run(a, ctx) {
        const r = await md.objectFields(ctx, a.object);
        return {
          value: { object: a.object, fields: r.value },
          vaultUser: r.vaultUser,
          objects: [`metadata/vobjects/${a.object}`],
        };
      },
    }),
    defineTool({
      name: 'picklists_get',
      title: 'Picklist values',
      description:
        'List the values (name and label) of a picklist, e.g. the picklist a field names in metadata_object_fields.',
      scopes: ['vault:read'],
      input: { name: vaultName('severity__c').describe('Picklist name') },
      output: { name: z.string(), values: z.array(z.object({ name: z.string(), label: z.string() })) },
      annotations: READ_ONLY,
      async run(a, ctx) {
        const r = await md.picklist(ctx, a.name);
        return { value: { name: a.name, values: r.value }, vaultUser: r.vaultUser, objects: [`picklists/${a.name}`] };
      },
    }),
  ];
}
