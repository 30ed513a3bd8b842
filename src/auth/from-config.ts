/**
 * Builds every enabled identity provider from the config and the dispatcher over them, so `main.ts`
 * wires one call.
 *
 * @module
 */
import type { Config } from '../config/index.js';
import { createNotifyListener, type NotifyListener } from '../db/notify-listener.js';
import type { Pool } from '../db/pool.js';
import { API_KEYS_CHANNEL, createApiKeyVerifier } from './api-key-verifier.js';
import { createAuth0Verifier } from './auth0-verifier.js';
import { createTokenVerifier, type IssuerVerifier, type OpaqueVerifier } from './create-verifier.js';
import { createGithubActionsVerifier } from './github-actions-verifier.js';
import { createGithubVerifier } from './github-verifier.js';
import { createGoogleVerifiers, GOOGLE_ISSUER } from './google-verifier.js';
import { createOidcVerifier } from './oidc-verifier.js';
import { OAUTH_GRANTS_CHANNEL } from './own-issuer-verifier.js';
import type { TokenVerifier } from './types.js';

export interface AuthSetup {
  verifier: TokenVerifier;
  /** Authorization servers advertised in the RFC 9728 metadata (those a user can sign in with). */
  authorizationServers: string[];
  /** Names of the enabled providers (for the boot log). */
  providers: string[];
  /** Resolves once API-key and grant changes are being listened to (the caches are trusted from then on), or false after `ms`. */
  ready(ms: number): Promise<boolean>;
  /** Stop the change listener and write pending `last_used_at` values. */
  close(): Promise<void>;
}

/**
 * How long a replica that is not certainly listening for grant changes (listener down, reconnecting,
 * or none) trusts a verified access token of ours before checking its grant again: a revocation it
 * cannot hear takes effect within this. A silently dead LISTEN connection goes unnoticed about as
 * long (its probe runs every 5 s), so listening replicas have much the same bound in the worst case.
 */
export const UNHEARD_GRANT_TRUST_MS = 5_000;

/**
 * @example
 * const auth = createAuthFromConfig(config, { pool, onError: (e) => log.warn(e) });
 * createApp({ verifier: auth.verifier, authorizationServers: auth.authorizationServers, … });
 */
export function createAuthFromConfig(
  config: Readonly<Config>,
  deps: {
    pool: Pool;
    onError?: (e: Error) => void;
    fetch?: typeof fetch;
    ownIssuer?: IssuerVerifier;
    /**
     * Where to LISTEN for API-key and grant changes; absent: API keys are read from Postgres on every
     * request and our own access tokens are re-verified after {@link UNHEARD_GRANT_TRUST_MS}.
     */
    listenUrl?: string;
  },
): AuthSetup {
  const a = config.auth;
  const common = {
    clockSkewSeconds: a.clockSkewSeconds,
    jwksMaxAgeMs: a.jwksMaxAgeSeconds * 1000,
    jwksCooldownMs: a.jwksCooldownSeconds * 1000,
    fetch: deps.fetch,
  };
  const cache = {
    cacheTtlMs: a.opaqueCacheSeconds * 1000,
    negativeCacheTtlMs: a.opaqueNegativeCacheSeconds * 1000,
    cacheMaxEntries: config.cache.identityMax,
  };
  const jwt: IssuerVerifier[] = [];
  // API keys are always on: a key exists only if an admin created one.
  const listener: NotifyListener | undefined =
    deps.listenUrl && (config.cache.apiKeySeconds || (deps.ownIssuer && a.jwtCacheSeconds))
      ? createNotifyListener({
          url: deps.listenUrl,
          channels: [API_KEYS_CHANNEL, OAUTH_GRANTS_CHANNEL],
          onError: deps.onError,
        })
      : undefined;
  const apiKeys = createApiKeyVerifier({
    pool: deps.pool,
    issuer: config.publicUrl,
    onError: deps.onError,
    lastUsedFlushMs: config.cache.apiKeyLastUsedSeconds * 1000,
    // API_KEY_CACHE_SECONDS=0 (the listener may be there for grants only): every key is read from Postgres.
    cache: listener && {
      listener,
      ttlMs: config.cache.apiKeySeconds * 1000,
      negativeTtlMs: a.opaqueNegativeCacheSeconds * 1000,
      maxEntries: config.cache.identityMax,
    },
  });
  const opaque: OpaqueVerifier[] = [apiKeys];
  const authorizationServers: string[] = [];
  const providers = ['api-key'];

  if (a.oidc) {
    jwt.push(createOidcVerifier({ ...a.oidc, ...common }));
    authorizationServers.push(a.oidc.issuer);
    providers.push('oidc');
  }
  if (a.auth0) {
    jwt.push(createAuth0Verifier({ ...a.auth0, algorithms: ['RS256', 'PS256'], ...common }));
    authorizationServers.push(a.auth0.issuer);
    providers.push('auth0');
  }
  if (a.google) {
    const g = createGoogleVerifiers({ ...a.google, defaultScopes: a.defaultScopes, ...common, ...cache });
    jwt.push(g.idTokens);
    opaque.push(g.accessTokens);
    authorizationServers.push(GOOGLE_ISSUER);
    providers.push('google');
  }
  if (a.github) {
    // GitHub is not an RFC 8414 authorization server, so it is not advertised in the metadata.
    opaque.push(createGithubVerifier({ ...a.github, defaultScopes: a.defaultScopes, fetch: deps.fetch, ...cache }));
    providers.push('github');
  }
  if (a.githubActions) {
    jwt.push(createGithubActionsVerifier({ ...a.githubActions, ...common }));
    providers.push('github-actions');
  }
  if (deps.ownIssuer) {
    // Our authorization server fronts the identity providers: clients are sent to it, and only to it.
    jwt.push(deps.ownIssuer);
    authorizationServers.splice(0, authorizationServers.length, ...deps.ownIssuer.issuers);
    providers.push('oauth-server');
  }
  return {
    verifier: createTokenVerifier({
      jwt,
      opaque,
      maxTokenBytes: a.maxTokenBytes,
      // Refusals are kept no longer than opaque ones, and never longer than successes.
      jwtCache: {
        ttlMs: a.jwtCacheSeconds * 1000,
        negativeTtlMs: Math.min(a.opaqueNegativeCacheSeconds, a.jwtCacheSeconds) * 1000,
        maxEntries: config.cache.identityMax,
        // Our own access tokens: dropped on every replica when their grant ends (migration 0150).
        revocable: deps.ownIssuer && {
          keyOf: (user) => user.grantId,
          listener,
          channel: OAUTH_GRANTS_CHANNEL,
          unheardTtlMs: UNHEARD_GRANT_TRUST_MS,
        },
      },
    }),
    authorizationServers,
    providers,
    ready: (ms) => listener?.ready(ms) ?? Promise.resolve(false),
    async close() {
      await listener?.close();
      await apiKeys.close();
    },
  };
}
