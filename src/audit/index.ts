export { summariseArgs, toRow, type AuditEntry, type AuditRow } from './entry.js';
export { canonicalJson, chainHash } from './hash.js';
export { verifyAuditChain, type VerifyResult } from './verify.js';
export { AUDIT_LOCK_NS, createAuditWriter, type AuditTenant, type AuditWriter } from './writer.js';
