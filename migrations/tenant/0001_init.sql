-- Per-tenant tables. Unqualified names: the runner sets search_path to the tenant schema only.
CREATE TABLE audit_log (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  request_id   text,
  subject      text NOT NULL,
  actor        text,
  provider     text,
  tool         text,
  scopes       text[] NOT NULL DEFAULT '{}',
  outcome      text NOT NULL,
  error_code   text,
  vault_user   text,
  latency_ms   integer,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash    bytea,
  hash         bytea
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Vault sessions shared across replicas; the session id is encrypted with SECRET_KEY.
CREATE TABLE vault_sessions (
  key           text PRIMARY KEY,
  vault_user    text,
  ciphertext    bytea NOT NULL,
  expires_at    timestamptz NOT NULL,
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Which Vault user an MCP subject acts as (delegated mode looks it up by email once).
CREATE TABLE user_mappings (
  subject         text PRIMARY KEY,
  email           text NOT NULL,
  vault_user_id   text,
  vault_username  text,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
