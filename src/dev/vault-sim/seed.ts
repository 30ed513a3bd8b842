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
  };
}

/** Whether `user` may see a row carrying `site__c` (and optional explicit sharing). */
export function canSee(user: SimUser, row: { site__c?: unknown; shared_with?: number[] }): boolean {
  if (user.seesAll || row.site__c === undefined) return true;
  return user.sites.includes(String(row.site__c)) || (row.shared_with ?? []).includes(user.id);
}
