export { summariseArgs, toRow, type AuditEntry, type AuditRow } from './entry.js';
export { canonicalJson, chainHash, chainMac, HASH_V1, HASH_V2 } from './hash.js';
export { createAuditKeys, type AuditKeys, type TenantAuditKey } from './keys.js';
export { exportHeads, parseHeads, type ChainHead } from './heads.js';
export { verifyAuditChain, type VerifyResult } from './verify.js';
export { AUDIT_LOCK_NS, createAuditWriter, type AuditTenant, type AuditWriter } from './writer.js';
