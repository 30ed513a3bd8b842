-- Sign-in (issue #11): a tenant may name its own OIDC provider (issuer, client id, the NAME of the env
-- var holding the client secret, display name). NULL = the server-wide providers only.
ALTER TABLE control.tenants ADD COLUMN idp jsonb CHECK (idp IS NULL OR jsonb_typeof(idp) = 'object');
