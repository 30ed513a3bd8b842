-- Replicas cache verified access tokens of our own authorization server (JWT_CACHE_SECONDS) and drop
-- those of a grant the moment the grant ends. Every path that ends a grant (the grants CLI, RFC 7009
-- revocation, code replay, refresh-token reuse, grant max age, SSO enforcement, a tenant deleted with
-- its grants) writes this table, so the trigger notifies `vault_mcp_oauth_grants` with the grant id,
-- delivered at COMMIT to every listening replica. An INSERT does not notify (no token of a new grant
-- can be cached yet), nor does `last_used_at` bookkeeping (every refresh writes it).
CREATE FUNCTION control.oauth_grants_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('vault_mcp_oauth_grants', '*');
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - 'last_used_at') = (to_jsonb(NEW) - 'last_used_at') THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('vault_mcp_oauth_grants', OLD.id);
  IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
    PERFORM pg_notify('vault_mcp_oauth_grants', NEW.id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER oauth_grants_notify AFTER UPDATE OR DELETE ON control.oauth_grants
  FOR EACH ROW EXECUTE FUNCTION control.oauth_grants_notify();
CREATE TRIGGER oauth_grants_notify_truncate AFTER TRUNCATE ON control.oauth_grants
  FOR EACH STATEMENT EXECUTE FUNCTION control.oauth_grants_notify();
