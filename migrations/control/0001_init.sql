-- Shared control tables. Always referenced fully qualified (control.x); tenant code never sees them.
CREATE TABLE control.tenants (
  id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  schema_name   text NOT NULL UNIQUE CHECK (schema_name ~ '^t_[0-9a-f]{32}$'),
  display_name  text,
  vault         jsonb NOT NULL DEFAULT '{}'::jsonb,
  settings      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control.tenant_domains (
  domain              text PRIMARY KEY CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9.-]+$'),
  tenant_id           text NOT NULL REFERENCES control.tenants(id) ON DELETE CASCADE,
  include_subdomains  boolean NOT NULL DEFAULT false
);
CREATE INDEX tenant_domains_tenant_idx ON control.tenant_domains (tenant_id);

-- Service API keys: only a SHA-256 of the secret is stored.
CREATE TABLE control.api_keys (
  id            text PRIMARY KEY,
  tenant_id     text NOT NULL REFERENCES control.tenants(id) ON DELETE CASCADE,
  name          text NOT NULL,
  secret_sha256 bytea NOT NULL,
  scopes        text[] NOT NULL DEFAULT '{}',
  act_as        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz
);
CREATE INDEX api_keys_tenant_idx ON control.api_keys (tenant_id);
