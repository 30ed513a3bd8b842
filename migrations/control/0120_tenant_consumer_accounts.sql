-- Identity hardening (issue #12): consumer accounts (a Google account without a Workspace `hd`
-- proving the domain, any GitHub account) map to a tenant only when the tenant opts in.
ALTER TABLE control.tenants ADD COLUMN allow_consumer_accounts boolean NOT NULL DEFAULT false;
