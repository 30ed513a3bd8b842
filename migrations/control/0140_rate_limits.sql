-- Shared per-tenant rate-limit counters (src/http/rate-limit-shared.ts, rate-limiter-flexible's Postgres
-- store). UNLOGGED: counters need no crash safety, and skipping the WAL keeps each check cheap. Created
-- here so that a serving role without CREATE on the control schema (MIGRATION_DATABASE_URL) can use it.
CREATE UNLOGGED TABLE IF NOT EXISTS control.rate_limits (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
