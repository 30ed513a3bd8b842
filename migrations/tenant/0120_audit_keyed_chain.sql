-- Audit trail hardening (issue #12): the chain is keyed. Rows written from now on carry
-- hash_version 2 (HMAC-SHA256 under a per-tenant key derived from SECRET_KEY) and the id of that key;
-- rows already stored keep hash_version 1 (unkeyed SHA-256) and are verified as such up to the
-- cut-over (the first keyed row). Adding columns with a constant default rewrites no row, so the
-- append-only trigger is not involved.
ALTER TABLE audit_log ADD COLUMN hash_version smallint NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN key_id text;
-- NOT VALID: every existing row is (1, NULL) by construction, so skip a scan that would hold the
-- table's lock (and so every audit write of the tenant) for as long as the log is big. New rows are checked.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_hash_version_check
  CHECK ((hash_version = 1 AND key_id IS NULL) OR (hash_version = 2 AND key_id ~ '^[0-9a-f]{16}$')) NOT VALID;
