/**
 * The tenant model, shared by tenancy (who owns which domain), vault (how to reach the tenant's Vault)
 * and audit. The zod schemas validate the TENANTS_FILE entries and the admin CLI input.
 *
 * @module
 */
import { z } from 'zod';
import type { SchemaName } from '../db/schema-name.js';
import { asciiLower, domainProblem } from './email-domain.js';

/** Secrets are referenced by the name of the environment variable that holds them. */
const EnvVarName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');

/** The Vault service account both password modes sign in as. */
const passwordCredentials = {
  username: z.string().min(1),
  passwordEnv: EnvVarName.optional(),
  passwordFile: z.string().min(1).optional(),
};

/** How vault-mcp signs in to the tenant's Vault. Secrets are referenced (env var / file), never inlined. */
export const VaultAuthSchema = z.discriminatedUnion('mode', [
  z.object({
    /** One shared Vault session per tenant; the audit log still names each user. */
    mode: z.literal('service_account'),
    ...passwordCredentials,
  }),
  z.object({
    /** Service account + POST /delegation/login as the user's Vault id, found by email. */
    mode: z.literal('delegated'),
    ...passwordCredentials,
  }),
  z.object({
    /** Vault OAuth/OIDC profile: a token obtained for Vault (never the MCP access token itself). */
    mode: z.literal('oauth'),
    profileId: z.string().min(1),
    clientId: z.string().min(1).optional(),
    /** RFC 8693 token exchange endpoint of the identity provider that issued the users' tokens. */
    tokenEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    clientSecretEnv: EnvVarName.optional(),
    /** `audience` of the exchanged token, as the Vault OAuth profile expects it (default: the Vault URL). */
    audience: z.string().min(1).optional(),
    /** `scope` requested for the exchanged token, if the identity provider needs one. */
    scope: z.string().min(1).optional(),
  }),
]);
export type VaultAuth = z.infer<typeof VaultAuthSchema>;

export const TenantVaultSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  apiVersion: z
    .string()
    .regex(/^v\d+\.\d+$/, 'like v25.2')
    .default('v25.2'),
  auth: VaultAuthSchema,
});
export type TenantVault = z.infer<typeof TenantVaultSchema>;

/**
 * The tenant's own OpenID provider for sign-in (Okta, Entra ID, Keycloak …): users of the tenant's
 * domains are sent there (home-realm discovery). The client secret is named by env var, never inlined.
 */
export const TenantIdpSchema = z
  .object({
    issuer: z.url({ protocol: /^https?$/ }),
    clientId: z.string().min(1),
    /** Unset: a public client (PKCE only, token_endpoint_auth_method none). */
    clientSecretEnv: EnvVarName.optional(),
    /** Shown on the sign-in page (default: the tenant's name). */
    name: z.string().min(1).optional(),
    /**
     * Unset/false: the tenant's users must sign in through this IdP (the server-wide providers are
     * refused for its domains, so deprovisioning there takes effect). true: they may use either.
     */
    allowOtherProviders: z.boolean().optional(),
  })
  .strict();
export type TenantIdp = z.infer<typeof TenantIdpSchema>;

/**
 * Why a sign-in through `upstream` (a provider id, `tenant:<id>` for a tenant's own IdP) does not count
 * for `tenant` any more, or undefined when it does: a tenant with its own IdP and no
 * `allowOtherProviders` accepts only that IdP, also for grants made before the IdP was set (SSO
 * enforcement must end them, else deprovisioning at the IdP would not reach them).
 *
 * @example
 * signInProviderProblem({ id: 'acme', idp: { … } } as Tenant, 'google') // "Tenant 'acme' requires …"
 */
export function signInProviderProblem(
  tenant: Pick<Tenant, 'id' | 'name' | 'idp'>,
  upstream: string | undefined,
): string | undefined {
  if (!tenant.idp || tenant.idp.allowOtherProviders === true || upstream === `tenant:${tenant.id}`) return undefined;
  const idpName = tenant.idp.name ?? tenant.name ?? tenant.id;
  return `Tenant '${tenant.id}' requires sign-in through its own identity provider (${idpName}); this grant came from '${upstream ?? 'unknown'}'`;
}

/** Tenant ids are short slugs chosen by the admin; schema names are generated separately. */
export const TenantIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes');

/**
 * A tenant domain: ASCII checked BEFORE lower-casing (so the Kelvin sign cannot fold into `k`),
 * internationalised domains only as valid `xn--` labels (see {@link domainProblem}). Whether it is a
 * public suffix is checked at provisioning, which names the tenant too.
 */
export const DomainSchema = z.string().transform((given, ctx) => {
  const d = given.trim().replace(/\.$/, '');
  const lower = asciiLower(d);
  const problem = domainProblem(lower);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(given.slice(0, 120))} is not usable: ${problem}` });
    return z.NEVER;
  }
  return lower;
});

/** One entry of TENANTS_FILE. */
export const TenantInputSchema = z
  .object({
    id: TenantIdSchema,
    name: z.string().min(1).optional(),
    domains: z.array(DomainSchema).min(1),
    /** Also accept users from sub-domains of each domain (e.g. eu.acme.com for acme.com). */
    includeSubdomains: z.boolean().default(false),
    /**
     * Also map consumer accounts whose email is at one of the domains: Google accounts without a
     * Workspace `hd` proving the domain, and GitHub accounts (GitHub proves no domain). Off by default.
     */
    allowConsumerAccounts: z.boolean().optional(),
    vault: TenantVaultSchema,
    /** The tenant's own OIDC provider for sign-in. */
    idp: TenantIdpSchema.optional(),
  })
  .strict();
export type TenantInput = z.infer<typeof TenantInputSchema>;

export const TenantsFileSchema = z.object({ tenants: z.array(TenantInputSchema) }).strict();

/** A tenant as the running server knows it. */
export interface Tenant {
  id: string;
  name: string | undefined;
  schema: SchemaName;
  vault: TenantVault;
  /** The tenant's own OIDC provider for sign-in, when it names one. */
  idp?: TenantIdp;
}
