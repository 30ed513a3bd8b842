/**
 * The simulator's default data: a small QualityDocs-like Vault for "acme". Two real users see
 * different rows (the QA manager sees every quality document; the QA specialist only Boston-site
 * ones and documents explicitly shared with him), plus a service account used by
 * `service_account` and `delegated` modes. Both users granted delegate access to the service account.
 *
 * @module
 */

export interface SimUser {
  id: number;
  user_name__v: string;
  user_email__v: string;
  user_first_name__v: string;
  user_last_name__v: string;
  password: string;
  active: boolean;
  /** Sees every row (managers, service accounts). */
  seesAll: boolean;
  /** Sites whose rows this user sees when not seesAll. */
  sites: string[];
  canEdit: boolean;
  /** User ids this user granted delegate access to. */
  delegates: number[];
}

export type Row = Record<string, unknown> & { id: number | string };

export interface SimSeed {
  vaultId: number;
  vaultName: string;
  users: SimUser[];
  documents: (Row & { site__c: string; shared_with?: number[] })[];
  objects: Record<string, (Row & { site__c?: string })[]>;
  tasks: Row[];
  /** Plain text of each document's latest version (document version text, FIND … SCOPE CONTENT). */
  documentTexts?: Record<number, string>;
  /** Document audit trail entries (newest first), as `GET …/documents/{id}/audittrail` returns them. */
  auditTrail?: Record<number, Row[]>;
  /** User actions available in each document lifecycle state (status__v label). */
  lifecycleActions?: Record<string, SimAction[]>;
  /** Document types (Type > Subtype), `GET /metadata/objects/documents/types[/{type}]`. */
  documentTypes?: { name: string; label: string; subtypes?: { name: string; label: string }[] }[];
  /** Document fields, `GET /metadata/objects/documents/properties`. */
  documentFields?: Record<string, unknown>[];
  /** Object metadata, `GET /metadata/vobjects[/{object}]`. */
  objectMeta?: Record<string, SimObjectMeta>;
  /** Picklists and their values, `GET /objects/picklists/{name}`. */
  picklists?: Record<string, { label: string; values: { name: string; label: string }[] }>;
}

/** A document user action: a state change (to `target`) or a legacy workflow start. */
export interface SimAction {
  name__v: string;
  label__v: string;
  lifecycle_action_type__v: 'stateChange' | 'workflow';
  /** New status__v for state changes. */
  target?: string;
}

export interface SimObjectMeta {
  label: string;
  label_plural: string;
  prefix: string;
  fields: { name: string; label: string; type: string; picklist?: string; required?: boolean }[];
}

export const SERVICE_ACCOUNT = 'integration@acme.com';
export const QA_MANAGER = 'qa.manager@acme.com';
export const QA_SPECIALIST = 'qa.specialist@acme.com';
export const SIM_PASSWORD = 'sim-password';

/** A fresh copy of the default seed (tests mutate their own copy). */
export function defaultSeed(): SimSeed {
  const user = (id: number, email: string, first: string, last: string, extra: Partial<SimUser>): SimUser => ({
    id,
    user_name__v: email,
    user_email__v: email,
    user_first_name__v: first,
    user_last_name__v: last,
    password: SIM_PASSWORD,
    active: true,
    seesAll: false,
    sites: [],
    canEdit: false,
    delegates: [],
    ...extra,
  });
  const doc = (id: number, name: string, type: string, status: string, site: string, extra: Partial<Row> = {}) => ({
    id,
    name__v: name,
    title__v: name,
    document_number__v: `QD-${String(id).padStart(5, '0')}`,
    type__v: type,
    subtype__v: type === 'SOP' ? 'Quality SOP' : '',
    status__v: status,
    lifecycle__v: 'General Lifecycle',
    major_version_number__v: status === 'Effective' ? 1 : 0,
    minor_version_number__v: status === 'Effective' ? 0 : 1,
    product__v: 'Cholecap',
    site__c: site,
    created_by__v: 9000,
    document_creation_date__v: '2026-01-15T10:00:00.000Z',
    version_modified_date__v: '2026-03-01T09:30:00.000Z',
    ...extra,
  });
  return {
    vaultId: 5791,
    vaultName: 'Acme QualityDocs',
    users: [
      user(9000, SERVICE_ACCOUNT, 'System', 'Integration', { seesAll: true, canEdit: true }),
      user(1001, QA_MANAGER, 'Quinn', 'Manager', { seesAll: true, canEdit: true, delegates: [9000] }),
      user(1002, QA_SPECIALIST, 'Sam', 'Specialist', { sites: ['Boston'], delegates: [9000] }),
      user(1003, 'former.employee@acme.com', 'Fay', 'Former', { active: false }),
      // Active, but never granted delegate access to the service account.
      user(1004, 'ra.lead@acme.com', 'Rae', 'Lead', { sites: ['Dublin'] }),
    ],
    documents: [
      doc(101, 'SOP Deviation Management', 'SOP', 'Effective', 'Boston'),
      doc(102, 'SOP CAPA Process', 'SOP', 'Effective', 'Dublin'),
      doc(103, 'Batch Record Review Procedure', 'SOP', 'Draft', 'Boston'),
      doc(104, "Supplier Audit Report O'Brien Ltd", 'Audit Report', 'Approved', 'Dublin'),
      doc(105, 'Cleanroom Validation Protocol', 'Protocol', 'In Review', 'Singapore'),
      doc(106, 'Annual Product Quality Review 2025', 'Report', 'Approved', 'Dublin', { shared_with: [1002] }),
      doc(107, 'Training Matrix QA', 'Form', 'Effective', 'Boston'),
      doc(108, 'Complaint Handling SOP', 'SOP', 'Superseded', 'Singapore'),
    ],
    objects: {
      product__v: [
        {
          id: '00P000000000101',
          name__v: 'Cholecap',
          status__v: 'active__v',
          created_date__v: '2025-06-01T00:00:00.000Z',
        },
        {
          id: '00P000000000102',
          name__v: 'Nyaxa',
          status__v: 'active__v',
          created_date__v: '2025-07-01T00:00:00.000Z',
        },
      ],
      deviation__c: [
        {
          id: 'V0D000000000201',
          name__v: 'DEV-2026-001',
          status__v: 'open__c',
          severity__c: 'major__c',
          site__c: 'Boston',
          created_date__v: '2026-02-01T00:00:00.000Z',
        },
        {
          id: 'V0D000000000202',
          name__v: 'DEV-2026-002',
          status__v: 'closed__c',
          severity__c: 'minor__c',
          site__c: 'Dublin',
          created_date__v: '2026-02-10T00:00:00.000Z',
        },
        {
          id: 'V0D000000000203',
          name__v: 'DEV-2026-003',
          status__v: 'open__c',
          severity__c: 'critical__c',
          site__c: 'Singapore',
          created_date__v: '2026-03-05T00:00:00.000Z',
        },
      ],
    },
    tasks: [
      {
        id: 7201,
        label__v: 'Approve',
        status__v: ['available__v'],
        object__v: 'deviation__c',
        record_id__v: 'V0D000000000201',
        assignee__v: '1001',
        instructions__v: 'Approve or reject the deviation.',
        created_date__v: '2026-03-01T10:00:00.000Z',
        due_date__v: '2026-03-08T10:00:00.000Z',
        workflow__v: '801',
      },
      {
        id: 7202,
        label__v: 'Review',
        status__v: ['available__v'],
        object__v: 'deviation__c',
        record_id__v: 'V0D000000000201',
        assignee__v: '1002',
        instructions__v: 'Review the investigation.',
        created_date__v: '2026-03-01T10:00:00.000Z',
        due_date__v: '2026-03-05T10:00:00.000Z',
        workflow__v: '801',
      },
      {
        id: 7203,
        label__v: 'Investigate',
        status__v: ['completed__v'],
        object__v: 'deviation__c',
        record_id__v: 'V0D000000000203',
        assignee__v: '1001',
        instructions__v: 'Lead the investigation.',
        created_date__v: '2026-03-05T10:00:00.000Z',
        workflow__v: '802',
      },
    ],
    documentTexts: {
      101:
        'SOP Deviation Management. 1. Purpose: record, investigate and close deviations. 2. Scope: all GMP areas, ' +
        'including sterilisation of equipment and aseptic filling. 3. Procedure: raise a deviation within one ' +
        'business day; classify it as minor, major or critical; open a CAPA for major and critical deviations. ' +
        '4. Sterilisation failures (autoclave cycle out of limits) are always major deviations.',
      102: 'SOP CAPA Process. Corrective and preventive actions: identify the root cause, plan, implement, verify.',
      103: 'Batch Record Review Procedure (draft). Review each executed batch record before release.',
      104: "Supplier Audit Report O'Brien Ltd. Findings: two minor observations on documentation.",
      105: 'Cleanroom Validation Protocol. Particle counts, airflow visualisation and sterilisation hold times.',
      106: 'Annual Product Quality Review 2025 for Cholecap.',
      107: 'Training Matrix QA. Required training per role.',
      108:
        'Complaint Handling SOP (superseded). Complaints about sterility or sterilisation are escalated to QA ' +
        'within 24 hours.',
    },
    auditTrail: {
      101: [
        audit(5006, '2026-03-01T09:30:00Z', 1001, 'ChangeState', 'Effective', '1.0', {
          event_description: 'Changed state from Approved to Effective',
        }),
        audit(5005, '2026-02-27T16:10:00Z', 1001, 'TaskCompletion', 'Approved', '0.3', {
          workflow_name: 'Approval',
          task_name: 'Approve',
          signature_meaning: 'Approval',
          event_description: 'Completed task Approve (verdict: Approved) with an eSignature',
        }),
        audit(5004, '2026-02-20T11:00:00Z', 1002, 'TaskCompletion', 'In Review', '0.3', {
          workflow_name: 'Review',
          task_name: 'Review',
          event_description: 'Completed task Review (verdict: Reviewed)',
        }),
        audit(5003, '2026-02-10T08:00:00Z', 1002, 'EditDocFields', 'Draft', '0.2', {
          field_name: 'Title',
          old_value: 'Deviation Management',
          new_value: 'SOP Deviation Management',
          event_description: 'Title changed from "Deviation Management" to "SOP Deviation Management"',
        }),
        audit(5002, '2026-01-20T10:00:00Z', 1001, 'GetDocumentVersion', 'Draft', '0.1', {
          event_description: 'Viewed Document',
        }),
        audit(5001, '2026-01-15T10:00:00Z', 9000, 'CreateDocument', 'Draft', '0.1', {
          event_description: 'Created document',
        }),
      ],
      108: [
        audit(5101, '2025-12-01T10:00:00Z', 1001, 'ChangeState', 'Superseded', '2.0', {
          event_description: 'Changed state from Effective to Superseded',
        }),
      ],
    },
    lifecycleActions: {
      Draft: [
        { name__v: 'start_review__c', label__v: 'Start Review', lifecycle_action_type__v: 'workflow' },
        { name__v: 'approve__c', label__v: 'Approve', lifecycle_action_type__v: 'stateChange', target: 'Approved' },
      ],
      'In Review': [
        { name__v: 'approve__c', label__v: 'Approve', lifecycle_action_type__v: 'stateChange', target: 'Approved' },
        { name__v: 'reject__c', label__v: 'Reject', lifecycle_action_type__v: 'stateChange', target: 'Draft' },
      ],
      Approved: [
        {
          name__v: 'make_effective__c',
          label__v: 'Make Effective',
          lifecycle_action_type__v: 'stateChange',
          target: 'Effective',
        },
      ],
      Effective: [
        {
          name__v: 'make_obsolete__c',
          label__v: 'Make Obsolete',
          lifecycle_action_type__v: 'stateChange',
          target: 'Obsolete',
        },
      ],
    },
    documentTypes: [
      {
        name: 'sop__c',
        label: 'SOP',
        subtypes: [{ name: 'quality_sop__c', label: 'Quality SOP' }],
      },
      { name: 'audit_report__c', label: 'Audit Report' },
      { name: 'protocol__c', label: 'Protocol' },
      { name: 'report__c', label: 'Report' },
      { name: 'form__c', label: 'Form' },
    ],
    documentFields: [
      field('id', 'ID', 'id', { editable: false, hidden: true }),
      field('name__v', 'Name', 'String', { required: true }),
      field('title__v', 'Title', 'String'),
      field('document_number__v', 'Document Number', 'String', { editable: false }),
      field('type__v', 'Type', 'String', { editable: false }),
      field('subtype__v', 'Subtype', 'String', { editable: false }),
      field('status__v', 'Status', 'String', { editable: false }),
      field('lifecycle__v', 'Lifecycle', 'String', { editable: false }),
      field('major_version_number__v', 'Major Version', 'Number', { editable: false }),
      field('minor_version_number__v', 'Minor Version', 'Number', { editable: false }),
      field('product__v', 'Product', 'ObjectReference'),
      field('site__c', 'Site', 'Picklist', { picklist: 'site__c' }),
      field('created_by__v', 'Created By', 'ObjectReference', { editable: false }),
      field('document_creation_date__v', 'Created Date', 'DateTime', { editable: false }),
      field('version_modified_date__v', 'Version Modified Date', 'DateTime', { editable: false }),
    ],
    objectMeta: {
      product__v: {
        label: 'Product',
        label_plural: 'Products',
        prefix: '00P',
        fields: [
          { name: 'id', label: 'ID', type: 'ID' },
          { name: 'name__v', label: 'Name', type: 'String', required: true },
          { name: 'status__v', label: 'Status', type: 'Picklist', picklist: 'default_status__v' },
          { name: 'created_date__v', label: 'Created Date', type: 'DateTime' },
        ],
      },
      deviation__c: {
        label: 'Deviation',
        label_plural: 'Deviations',
        prefix: 'V0D',
        fields: [
          { name: 'id', label: 'ID', type: 'ID' },
          { name: 'name__v', label: 'Deviation Number', type: 'String', required: true },
          { name: 'status__v', label: 'Status', type: 'Picklist', picklist: 'deviation_status__c' },
          { name: 'severity__c', label: 'Severity', type: 'Picklist', picklist: 'severity__c' },
          { name: 'site__c', label: 'Site', type: 'Picklist', picklist: 'site__c' },
          { name: 'created_date__v', label: 'Created Date', type: 'DateTime' },
        ],
      },
    },
    picklists: {
      severity__c: {
        label: 'Severity',
        values: [
          { name: 'minor__c', label: 'Minor' },
          { name: 'major__c', label: 'Major' },
          { name: 'critical__c', label: 'Critical' },
        ],
      },
      deviation_status__c: {
        label: 'Deviation Status',
        values: [
          { name: 'open__c', label: 'Open' },
          { name: 'closed__c', label: 'Closed' },
        ],
      },
      site__c: {
        label: 'Site',
        values: [
          { name: 'boston__c', label: 'Boston' },
          { name: 'dublin__c', label: 'Dublin' },
          { name: 'singapore__c', label: 'Singapore' },
        ],
      },
      default_status__v: {
        label: 'Status',
        values: [
          { name: 'active__v', label: 'Active' },
          { name: 'inactive__v', label: 'Inactive' },
        ],
      },
    },
  };
}

/** One document audit trail entry in Vault's shape (the user is resolved when served). */
export function audit(
  id: number,
  timestamp: string,
  userId: number,
  action: string,
  state: string,
  version: string,
  extra: Partial<Record<string, string>>,
): Row {
  return {
    id: String(id),
    timestamp,
    user_id: userId,
    action,
    item: '',
    field_name: null,
    old_value: null,
    new_value: null,
    workflow_name: null,
    task_name: null,
    signature_meaning: null,
    view_license: null,
    job_instance_id: null,
    doc_id: '',
    version,
    state,
    event_description: '',
    ...extra,
  };
}

/** One document field in the shape of `GET /metadata/objects/documents/properties`. */
function field(name: string, label: string, type: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    label,
    type,
    scope: 'DocumentVersion',
    required: false,
    repeating: false,
    systemAttribute: name.endsWith('__v') || name === 'id',
    editable: true,
    queryable: true,
    hidden: false,
    ...extra,
  };
}

/** Whether `user` may see a row carrying `site__c` (and optional explicit sharing). */
export function canSee(user: SimUser, row: { site__c?: unknown; shared_with?: number[] }): boolean {
  if (user.seesAll || row.site__c === undefined) return true;
  return (
    (typeof row.site__c === 'string' && user.sites.includes(row.site__c)) || (row.shared_with ?? []).includes(user.id)
  );
}
