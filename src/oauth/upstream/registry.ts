/**
 * The upstream identity providers users sign in with: the server-wide ones configured by env
 * (generic OIDC, Google, GitHub, Auth0, in that display order) and each tenant's own OIDC provider
 * (`tenant:<id>`, from the tenant's `idp`). Home-realm discovery (`forEmail`) uses the tenancy rules
 * (exact domain, or a sub-domain where the tenant opted in) through the tenant lookup; a tenant's
 * provider may only sign in users of that tenant's domains, and (unless its `idp` says
 * `allowOtherProviders`) the tenant's users may only sign in through it: a Google or GitHub account
 * that carries an acme.com address is refused when Acme runs its own IdP (SSO enforcement, so that
 * deprovisioning at the tenant's IdP takes effect).
 *
 * @module
 */
import type { Config } from '../../config/index.js';
import { AppError } from '../../errors/index.js';
import type { Tenant } from '../../tenancy/tenant.js';
import { createGithubUpstream } from './github-provider.js';
import { createOidcUpstream } from './oidc-provider.js';
import type { UpstreamProvider, UpstreamRegistry } from './types.js';

/** What the registry needs from tenancy: `createTenantResolver(...)` provides both. */
export interface TenantLookup {
  findById(id: string): Promise<Tenant | undefined>;
  findByEmail(email: string): Promise<Tenant | undefined>;
}

export interface UpstreamRegistryDeps {
  config: Pick<Config, 'upstream'>;
  tenants: TenantLookup;
  /** Reads a tenant IdP's client secret by env var name (what `start()` gets as `secrets`). */
  secrets: (name: string) => string | undefined;
  now?: () => number;
}

/** Algorithms a tenant's IdP may sign ID tokens with (asymmetric only). */
const TENANT_ALGORITHMS = ['RS256', 'PS256', 'ES256'];

/**
 * @example
 * const upstreams = createUpstreamRegistry({ config, tenants: resolveTenant, secrets: (n) => process.env[n] });
 * const google = await upstreams.get('google');
 */
export function createUpstreamRegistry(deps: UpstreamRegistryDeps): UpstreamRegistry {
  const u = deps.config.upstream;
  const common = {
    timeoutMs: u.timeoutMs,
    metadataCacheMs: u.metadataCacheMs,
    clockSkewSeconds: u.clockSkewSeconds,
    jwksMaxAgeMs: u.jwksMaxAgeMs,
    jwksCooldownMs: u.jwksCooldownMs,
    now: deps.now,
  };
  const serverWide: UpstreamProvider[] = [];
  if (u.oidc) {
    serverWide.push(
      createOidcUpstream({
        ...common,
        id: 'oidc',
        displayName: hostOf(u.oidc.issuer),
        provider: 'oidc',
        issuer: u.oidc.issuer,
        clientId: u.oidc.clientId,
        clientSecret: u.oidc.clientSecret,
        algorithms: u.oidc.algorithms,
      }),
    );
  }
  if (u.google) {
    const hostedDomains = u.google.hostedDomains;
    serverWide.push(
      createOidcUpstream({
        ...common,
        id: 'google',
        displayName: 'Google',
        provider: 'google',
        issuer: u.google.issuer,
        clientId: u.google.clientId,
        clientSecret: u.google.clientSecret,
        algorithms: ['RS256'],
        // `hd` on the request only pre-selects the account; the claim is what we check.
        extraParams: hostedDomains.length === 1 ? { hd: hostedDomains[0]! } : { prompt: 'select_account' },
        checkClaims: (claims) => googleHostedDomain(claims, hostedDomains),
      }),
    );
  }
  if (u.github) {
    serverWide.push(createGithubUpstream({ ...u.github, timeoutMs: u.timeoutMs, now: deps.now }));
  }
  if (u.auth0) {
    serverWide.push(
      createOidcUpstream({
        ...common,
        id: 'auth0',
        displayName: 'Auth0',
        provider: 'auth0',
        issuer: u.auth0.issuer,
        clientId: u.auth0.clientId,
        clientSecret: u.auth0.clientSecret,
        algorithms: ['RS256', 'PS256'],
      }),
    );
  }
  /** The tenant owning this email, or undefined for an address without a usable domain. */
  async function ownerOf(email: string): Promise<Tenant | undefined> {
    try {
      return await deps.tenants.findByEmail(email);
    } catch (e) {
      if (e instanceof AppError && e.code === 'ERR_TENANT_EMAIL_INVALID') return undefined;
      throw e;
    }
  }

  // Server-wide providers refuse users of tenants that sign in through their own IdP only.
  const enforced = serverWide.map((p): UpstreamProvider => ({
    id: p.id,
    displayName: p.displayName,
    authorizationUrl: (input) => p.authorizationUrl(input),
    ...(p.refresh ? { refresh: (previous) => p.refresh!(previous) } : {}),
    async exchange(input) {
      const identity = await p.exchange(input);
      const owner = await ownerOf(identity.email);
      if (owner?.idp && owner.idp.allowOtherProviders !== true) {
        const idpName = owner.idp.name ?? owner.name ?? owner.id;
        throw new AppError(
          'ERR_UPSTREAM_TENANT_MISMATCH',
          `Users of ${identity.email.split('@')[1]} sign in with ${idpName} (the identity provider of tenant "${owner.id}"), not with ${p.displayName}`,
          { provider: p.id },
        );
      }
      return identity;
    },
  }));
  const byId = new Map(enforced.map((p) => [p.id, p]));
  // One provider per tenant (its discovery cache lives in it), rebuilt when the tenant's idp changes.
  const tenantProviders = new Map<string, { key: string; provider: UpstreamProvider }>();

  function tenantProvider(tenant: Tenant): UpstreamProvider | undefined {
    const idp = tenant.idp;
    if (!idp) return undefined;
    const secret = idp.clientSecretEnv ? deps.secrets(idp.clientSecretEnv) : undefined;
    if (idp.clientSecretEnv && !secret) {
      throw new AppError(
        'ERR_TENANT_MISCONFIGURED',
        `The sign-in of tenant "${tenant.id}" needs the environment variable ${idp.clientSecretEnv} (its IdP client secret), which is not set`,
      );
    }
    // The oauth Vault mode needs a refresh token (offline_access), so the mode is part of the key.
    const offlineAccess = tenant.vault.auth.mode === 'oauth';
    const key = JSON.stringify([idp, secret ?? null, offlineAccess]);
    const hit = tenantProviders.get(tenant.id);
    if (hit?.key === key) return hit.provider;
    const id = `tenant:${tenant.id}`;
    const displayName = idp.name ?? tenant.name ?? tenant.id;
    const inner = createOidcUpstream({
      ...common,
      id,
      displayName,
      provider: 'oidc',
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: secret,
      algorithms: TENANT_ALGORITHMS,
      offlineAccess,
    });
    const provider: UpstreamProvider = {
      id,
      displayName,
      authorizationUrl: (input) => inner.authorizationUrl(input),
      refresh: (previous) => inner.refresh(previous),
      async exchange(input) {
        const identity = await inner.exchange(input);
        // A tenant's IdP vouches only for its own users: the email must map to this very tenant.
        const owner = await ownerOf(identity.email);
        if (owner?.id !== tenant.id) {
          throw new AppError(
            'ERR_UPSTREAM_TENANT_MISMATCH',
            `The identity provider of tenant "${tenant.id}" signed in ${identity.email}, whose domain is not one of that tenant's domains; sign in with your own organisation's provider`,
            { provider: id },
          );
        }
        return identity;
      },
    };
    tenantProviders.set(tenant.id, { key, provider });
    return provider;
  }

  return {
    list: () => enforced,

    async get(id) {
      const server = byId.get(id);
      if (server) return server;
      const m = /^tenant:([a-z0-9][a-z0-9-]{0,62})$/.exec(id);
      if (!m) return undefined;
      const tenant = await deps.tenants.findById(m[1]!);
      return tenant ? tenantProvider(tenant) : undefined;
    },

    async forEmail(email) {
      // Not an address with a usable domain: no home realm, the user picks a provider.
      const tenant = await ownerOf(email.trim());
      return tenant ? tenantProvider(tenant) : undefined;
    },
  };
}

/** GOOGLE_HOSTED_DOMAINS: the same rule as for Google bearer tokens (`hd` must be one of them). */
function googleHostedDomain(claims: Record<string, unknown>, allowed: readonly string[]): { hostedDomain?: string } {
  if (typeof claims.hd === 'string' && !/^[\x21-\x7e]+$/.test(claims.hd))
    throw new AppError(
      'ERR_UPSTREAM_DENIED',
      `The Google Workspace domain (hd) ${JSON.stringify(claims.hd.slice(0, 120))} is not plain ASCII, which is not accepted`,
    );
  // ASCII checked first, so lower-casing cannot fold a look-alike (Kelvin sign) into an allowed domain.
  const hd = typeof claims.hd === 'string' ? claims.hd.toLowerCase() : undefined;
  if (allowed.length) {
    if (!hd) {
      throw new AppError(
        'ERR_UPSTREAM_DENIED',
        `The Google account is not in a Google Workspace domain (no hd claim); allowed: ${allowed.join(', ')}`,
      );
    }
    if (!allowed.includes(hd)) {
      throw new AppError(
        'ERR_UPSTREAM_DENIED',
        `The Google Workspace domain (hd) '${hd}' is not allowed; allowed: ${allowed.join(', ')}`,
      );
    }
  }
  return hd ? { hostedDomain: hd } : {};
}

function hostOf(issuer: string): string {
  try {
    return new URL(issuer).host;
  } catch {
    return issuer;
  }
}
