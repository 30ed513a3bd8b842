-- OAuth 2.1 authorization server (issue #11, src/oauth). Shared by replicas; every secret is hashed
-- (codes, refresh tokens, client secrets: SHA-256) or encrypted under SECRET_KEY (signing keys,
-- upstream tokens, pending sign-ins: AES-256-GCM bound to the row by its additional data).

-- Signing keys of our access tokens. The newest key whose retire_at is unset signs; retired keys stay
-- in the JWKS until expires_at (retirement + the longest access-token lifetime), so rotation overlaps.
CREATE TABLE control.oauth_signing_keys (
  kid                 text PRIMARY KEY,
  alg                 text NOT NULL,
  public_jwk          jsonb NOT NULL,
  private_ciphertext  bytea NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  retire_at           timestamptz,
  expires_at          timestamptz
);

-- Dynamically registered clients (RFC 7591). Client ID Metadata Document clients are not stored here.
CREATE TABLE control.oauth_clients (
  client_id          text PRIMARY KEY,
  metadata           jsonb NOT NULL,
  secret_sha256      bytea,
  secret_expires_at  timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now()
);

-- A user's consent to one client for one redirect URI, resource and set of scopes: what codes and
-- refresh tokens hang off. Revoking it ends every token issued under it (access tokens at their next
-- verification). The upstream tokens are kept encrypted here for the `oauth` Vault mode only.
CREATE TABLE control.oauth_grants (
  id                   text PRIMARY KEY,
  client_id            text NOT NULL,
  client_name          text,
  subject              text NOT NULL,
  email                text NOT NULL,
  tenant_id            text NOT NULL REFERENCES control.tenants(id) ON DELETE CASCADE,
  upstream             text NOT NULL,
  identity             jsonb NOT NULL,
  scopes               text[] NOT NULL,
  resource             text NOT NULL,
  redirect_uri         text NOT NULL,
  upstream_ciphertext  bytea,
  created_at           timestamptz NOT NULL DEFAULT now(),
  last_used_at         timestamptz,
  revoked_at           timestamptz,
  revoked_reason       text
);
CREATE INDEX oauth_grants_subject_idx ON control.oauth_grants (subject);
CREATE INDEX oauth_grants_client_idx ON control.oauth_grants (client_id);
CREATE INDEX oauth_grants_tenant_idx ON control.oauth_grants (tenant_id);

-- Authorization codes: single use, short-lived; a replay revokes the grant.
CREATE TABLE control.oauth_codes (
  code_sha256     bytea PRIMARY KEY,
  grant_id        text NOT NULL REFERENCES control.oauth_grants(id) ON DELETE CASCADE,
  client_id       text NOT NULL,
  redirect_uri    text NOT NULL,
  redirect_given  boolean NOT NULL,
  code_challenge  text NOT NULL,
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
CREATE INDEX oauth_codes_grant_idx ON control.oauth_codes (grant_id);

-- Refresh tokens: rotated on every use; presenting a used one revokes the grant.
CREATE TABLE control.oauth_refresh_tokens (
  token_sha256  bytea PRIMARY KEY,
  grant_id      text NOT NULL REFERENCES control.oauth_grants(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz
);
CREATE INDEX oauth_refresh_tokens_grant_idx ON control.oauth_refresh_tokens (grant_id);

-- Sign-ins in progress (authorize → upstream → consent), bound to the browser that started them.
-- `data` is encrypted (it holds the upstream PKCE verifier, nonce and, after the callback, the identity).
CREATE TABLE control.oauth_logins (
  id              text PRIMARY KEY,
  browser_sha256  bytea NOT NULL,
  state_sha256    bytea UNIQUE,
  data            bytea NOT NULL,
  expires_at      timestamptz NOT NULL
);
CREATE INDEX oauth_logins_expires_idx ON control.oauth_logins (expires_at);
