-- Performance (issue 14): replicas cache verified API keys and drop an entry the moment its row
-- changes. Every insert, delete and change of a key (revocation, scopes, expiry, act-as) notifies
-- the channel `vault_mcp_api_keys` with the key id, delivered at COMMIT to every listening replica.
-- `last_used_at` bookkeeping alone does not notify (it changes nothing a verification depends on).
CREATE FUNCTION control.api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('vault_mcp_api_keys', '*');
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - 'last_used_at') = (to_jsonb(NEW) - 'last_used_at') THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('vault_mcp_api_keys', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
    PERFORM pg_notify('vault_mcp_api_keys', OLD.id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON control.api_keys
  FOR EACH ROW EXECUTE FUNCTION control.api_keys_notify();
CREATE TRIGGER api_keys_notify_truncate AFTER TRUNCATE ON control.api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION control.api_keys_notify();
