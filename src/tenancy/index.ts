/**
 * Tenancy: which tenant a verified user belongs to, and creating/removing tenants.
 *
 * @module
 */
export { domainProblem, normalizeEmail } from './email-domain.js';
export { loadTenantsFile, readTenantsFile } from './load-tenants-file.js';
export {
  checkTenantInput,
  ProvisionError,
  provisionPersonalTenant,
  provisionTenant,
  provisionTenants,
  type ProvisionDeps,
  type Provisioned,
} from './provision-tenant.js';
export { DEFAULT_PUBLIC_EMAIL_DOMAINS, domainSuffixes, isPublicDomain, isPublicSuffix } from './public-domains.js';
export { listTenants, type TenantSummary } from './list-tenants.js';
export { removeTenant } from './remove-tenant.js';
export { createTenantResolver, type TenantResolver, type TenantResolverDeps } from './resolve-tenant.js';
export {
  TenantIdpSchema,
  TenantInputSchema,
  TenantsFileSchema,
  TenantVaultSchema,
  type Tenant,
  type TenantIdp,
  type TenantInput,
  type TenantVault,
} from './tenant.js';
