/**
 * `npm run tenants -- <add|list|remove> …`: the tenant admin CLI. Same validation as TENANTS_FILE;
 * a bad command changes nothing. Run against the same database as the server (DATABASE_URL, or the
 * embedded Postgres under DATA_DIR). Running servers see changes within TENANT_CACHE_TTL_MS.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { loadMigrations, migrate } from '../db/migrate.js';
import { assertCanManageTenantRoles } from '../db/tenant-roles.js';
import {
  DEFAULT_PUBLIC_EMAIL_DOMAINS,
  listTenants,
  provisionTenants,
  readTenantsFile,
  removeTenant,
  TenantInputSchema,
} from '../tenancy/index.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE = `usage:
  npm run tenants -- add <id> --domain <d> [--domain <d2>…] [--include-subdomains] [--name <name>]
        [--allow-consumer-accounts]                   (also Google accounts without hd, GitHub accounts)
        --vault-url <url> [--api-version v25.2] --auth-mode service_account|delegated|oauth
        [--username <u>] [--password-env <VAR> | --password-file <path>]
        [--profile-id <id>] [--client-id <id>] [--token-endpoint <url>] [--client-secret-env <VAR>]
        [--audience <aud>] [--scope <scope>]          (oauth: token exchange for a Vault token)
        [--idp-issuer <url> --idp-client-id <id> [--idp-client-secret-env <VAR>] [--idp-name <name>]
         [--idp-allow-other-providers]]               (the tenant's own OIDC provider for sign-in; its users
                                                      must use it unless --idp-allow-other-providers)
  npm run tenants -- add --file <tenants.json>      (upsert every tenant of a TENANTS_FILE-style file)
  npm run tenants -- list [--all] [--json]          (--all includes removed tenants)
  npm run tenants -- remove <id>                    (soft: stops resolving, keeps the schema and its data)
  npm run tenants -- remove <id> --drop-schema --yes   (hard: deletes the schema and all its data)

'add' on an existing id updates it (name, Vault settings, domains) and brings back a removed tenant.`;

const OPTIONS = {
  domain: { type: 'string', multiple: true },
  'include-subdomains': { type: 'boolean' },
  'allow-consumer-accounts': { type: 'boolean' },
  name: { type: 'string' },
  'vault-url': { type: 'string' },
  'api-version': { type: 'string' },
  'auth-mode': { type: 'string' },
  username: { type: 'string' },
  'password-env': { type: 'string' },
  'password-file': { type: 'string' },
  'profile-id': { type: 'string' },
  'client-id': { type: 'string' },
  'token-endpoint': { type: 'string' },
  'client-secret-env': { type: 'string' },
  audience: { type: 'string' },
  scope: { type: 'string' },
  'idp-issuer': { type: 'string' },
  'idp-client-id': { type: 'string' },
  'idp-client-secret-env': { type: 'string' },
  'idp-name': { type: 'string' },
  'idp-allow-other-providers': { type: 'boolean' },
  file: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  'drop-schema': { type: 'boolean' },
  yes: { type: 'boolean' },
} as const;

await runCli('tenants', USAGE, async ({ db, config, out }) => {
  // Changes go through the owner role (MIGRATION_DATABASE_URL when set): schemas, roles, grants.
  const pool = db.adminPool;
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [command, id, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument(s): ${extra.join(' ')}`);

  // The control tables must exist (and be current) before any change.
  if (command === 'add' || command === 'remove') {
    if (config.db.tenantRoles) await assertCanManageTenantRoles(pool);
    await migrate(pool, { servingRole: await db.servingRole() });
  }

  switch (command) {
    case 'add': {
      const deps = {
        migrations: (await loadMigrations()).tenant,
        roles: config.db.tenantRoles,
        publicDomains: new Set(config.tenancy.publicDomains ?? DEFAULT_PUBLIC_EMAIL_DOMAINS),
        servingRole: await db.servingRole(),
      };
      // A file is applied in one transaction: every tenant or none.
      const inputs = v.file ? await readTenantsFile(v.file) : [parseTenantFlags(id, v)];
      const done = await provisionTenants(pool, inputs, deps);
      done.forEach((t, i) =>
        out(
          `${t.created ? 'created' : 'updated'} tenant ${t.id} (schema ${t.schema}; domains ${inputs[i]!.domains.join(', ')})`,
        ),
      );
      return 0;
    }
    case 'list': {
      const tenants = await listTenants(pool, { includeRemoved: v.all }).catch((e: unknown) => {
        if ((e as { code?: string }).code === '42P01')
          throw new Error('the database is not migrated yet: run `npm run migrate` first');
        throw e;
      });
      if (v.json) {
        out(JSON.stringify(tenants, null, 2));
        return 0;
      }
      if (!tenants.length) out('no tenants');
      for (const t of tenants) {
        const domains = t.domains.map((d) => (d.includeSubdomains ? `${d.domain} (+subdomains)` : d.domain)).join(', ');
        const flags = [
          t.personal ? 'personal' : '',
          t.allowConsumerAccounts ? 'consumer accounts' : '',
          t.removedAt ? `removed ${t.removedAt.toISOString()}` : '',
          t.idp?.issuer ? `idp ${t.idp.issuer}` : '',
        ]
          .filter(Boolean)
          .join(', ');
        out(`${t.id}\t${t.schema}\t${domains || '-'}${flags ? `\t[${flags}]` : ''}`);
      }
      return 0;
    }
    case 'remove': {
      if (!id) throw new UsageError('remove needs a tenant id');
      if (v['drop-schema'] && !v.yes)
        throw new UsageError('--drop-schema deletes every row of the tenant for good; add --yes to confirm');
      const r = await removeTenant(pool, id, { dropSchema: v['drop-schema'] });
      out(
        r.dropped
          ? `deleted tenant ${id} and dropped schema ${r.schema}`
          : `removed tenant ${id}; schema ${r.schema} and its data are kept (add it again to restore)`,
      );
      return 0;
    }
    default:
      throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'missing command');
  }
});

function parseTenantFlags(id: string | undefined, v: Record<string, string | string[] | boolean | undefined>) {
  if (!id) throw new UsageError('add needs a tenant id (or --file)');
  const s = (k: string) => v[k] as string | undefined;
  const auth = Object.fromEntries(
    Object.entries({
      mode: s('auth-mode'),
      username: s('username'),
      passwordEnv: s('password-env'),
      passwordFile: s('password-file'),
      profileId: s('profile-id'),
      clientId: s('client-id'),
      tokenEndpoint: s('token-endpoint'),
      clientSecretEnv: s('client-secret-env'),
      audience: s('audience'),
      scope: s('scope'),
    }).filter(([, x]) => x !== undefined),
  );
  const idp = Object.fromEntries(
    Object.entries({
      issuer: s('idp-issuer'),
      clientId: s('idp-client-id'),
      clientSecretEnv: s('idp-client-secret-env'),
      name: s('idp-name'),
      allowOtherProviders: v['idp-allow-other-providers'] === true ? true : undefined,
    }).filter(([, x]) => x !== undefined),
  );
  const candidate = {
    id,
    ...(s('name') ? { name: s('name') } : {}),
    domains: (v.domain as string[] | undefined) ?? [],
    includeSubdomains: v['include-subdomains'] === true,
    ...(v['allow-consumer-accounts'] ? { allowConsumerAccounts: true } : {}),
    vault: { url: s('vault-url'), ...(s('api-version') ? { apiVersion: s('api-version') } : {}), auth },
    ...(Object.keys(idp).length ? { idp } : {}),
  };
  const r = TenantInputSchema.safeParse(candidate);
  if (!r.success)
    throw new UsageError(r.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('\n'));
  return r.data;
}
