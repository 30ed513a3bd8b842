-- Tenancy (issue #4): soft removal and personal tenants for public email domains.

-- `npm run tenants -- remove <id>` sets removed_at (domains and API keys are released, the schema and
-- its data stay); `--drop-schema` deletes the row instead. Removed tenants never resolve.
ALTER TABLE control.tenants ADD COLUMN removed_at timestamptz;

-- PUBLIC_EMAIL_DOMAINS_POLICY=personal: one private tenant per verified public-domain address.
ALTER TABLE control.tenants ADD COLUMN personal_email text UNIQUE CHECK (personal_email = lower(personal_email));

-- Before PG 15 every role may create objects in `public`; tenant roles must not (and tenant code
-- never reads `public`: its search_path is the tenant schema only).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  END IF;
END $$;

-- Temp tables live per connection, across transactions: one created in a tenant transaction could be
-- found by a later tenant on the same pooled connection. Tenant roles get no TEMPORARY privilege.
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END $$;
