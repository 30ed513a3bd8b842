-- Vault sessions and user mappings belong to the Vault URL they were made on: after a tenant's Vault
-- URL changes, rows of the old Vault are never used (NULL = made before this migration: treated as
-- another Vault's, replaced by the next login).
ALTER TABLE vault_sessions ADD COLUMN vault_url text;
ALTER TABLE user_mappings ADD COLUMN vault_url text;

-- One replica logs a session key in at a time without holding a database connection during the
-- Vault call: it claims a lease here in a short transaction, logs in, then stores the session and
-- drops the lease. Others wait on the shared row; an expired lease (crashed holder) can be claimed.
CREATE TABLE vault_login_leases (
  key         text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
