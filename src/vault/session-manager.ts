/**
 * One Vault session per session key — (tenant, Vault URL, login mode, user), or per tenant in
 * `service_account` mode — however many calls arrive at once. The manager composes:
 *
 * - the login modes (login/service-account.ts, login/delegated.ts, login/oauth.ts), one interface;
 * - the in-process cache with typed keys (session-cache.ts), dropped for a tenant whose Vault URL changed;
 * - single flight per key, so N concurrent first calls share one identification and one login;
 * - a {@link SessionStore} that serialises logins across replicas without holding a database
 *   connection during the Vault call, and keeps the session id encrypted at rest;
 * - reuse until near the inactivity timeout or the 48 h maximum, background keep-alive for sessions
 *   in recent use, and exactly one transparent re-login when Vault answers INVALID_SESSION_ID.
 *
 * @module
 */
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { markActedAs, type Acted, type CallContext } from '../context/call-context.js';
import type { Metrics } from '../metrics/index.js';
import { singleFlight } from '../shared/single-flight.js';
import type { Tenant } from '../tenancy/tenant.js';
import { createVaultClient, vaultClientId, type VaultClient } from './client.js';
import { isVaultError } from './errors.js';
import { delegatedLogin } from './login/delegated.js';
import { oauthLogin } from './login/oauth.js';
import { serviceAccountLogin } from './login/service-account.js';
import type { LoginDeps, LoginMode } from './login/types.js';
import {
  createSessionCache,
  keyId,
  sessionKey,
  type CachedSession,
  type LoginKind,
  type SessionKey,
} from './session-cache.js';
import type { SessionStore, StoredSession } from './session-store.js';

/** Vault's maximum session duration, whatever the activity. */
export const MAX_SESSION_MS = 48 * 3600 * 1000;

export interface SessionManagerOptions {
  store: SessionStore;
  /** Secret lookup for `passwordEnv` / `clientSecretEnv` names (built from the env in main). */
  secrets: (name: string) => string | undefined;
  /** A Vault-audience access token for `oauth` mode (e.g. from an RFC 8693 token exchange). */
  oauthToken?: (ctx: CallContext, tenant: Tenant) => Promise<string>;
  /** Vault's session duration (inactivity timeout) as configured by the Vault admin. Default 10 min. */
  idleTimeoutMs?: number;
  /** Treat a session as expired this long before Vault would. Default 10% of the idle timeout, max 60 s. */
  marginMs?: number;
  /** Send POST /keep-alive for sessions in recent use (default true). */
  keepAlive?: boolean;
  /** How often to sweep the cache (keep-alive, dropping expired entries). Default idle/3; 0 disables the timer. */
  keepAliveIntervalMs?: number;
  /** Keep a session alive only if a tool used it within this window. Default 30 min. */
  keepWarmMs?: number;
  /** Vault client settings. */
  timeoutMs?: number;
  maxRetries?: number;
  clientIdPrefix?: string;
  /**
   * Most sessions kept in memory (VAULT_SESSION_CACHE_MAX); the least recently used are dropped (a
   * shared store still has them). Default 10,000. Also bounds the Vault clients (one per tenant and
   * Vault URL, so never more than the sessions in use); a dropped client is made again when needed.
   */
  maxCached?: number;
  /** Override the client factory (tests). */
  clientFor?: (tenant: Tenant) => VaultClient;
  log?: Logger;
  /** Session cache, login, re-login, Vault latency and error series (per tenant). */
  metrics?: Pick<Metrics, 'vaultSessionCache' | 'vaultLogins' | 'vaultRelogins' | 'vaultDuration' | 'vaultErrors'>;
}

/** What a tool gets: a client and a live session id acting as the right Vault user. */
export interface VaultSession {
  client: VaultClient;
  sessionId: string;
  vaultUserId: string;
  mode: Tenant['vault']['auth']['mode'];
}

/**
 * @example
 * const sessions = createSessionManager({ store, secrets: (n) => env[n] });
 * const { value: docs, vaultUser } = await sessions.withSession(ctx, (s) => s.client.query(s.sessionId, 'SELECT id FROM documents'));
 */
export function createSessionManager(opts: SessionManagerOptions) {
  const idle = opts.idleTimeoutMs ?? 10 * 60 * 1000;
  const margin = opts.marginMs ?? Math.min(60_000, Math.round(idle * 0.1));
  const keepWarm = opts.keepWarmMs ?? 30 * 60 * 1000;
  const cache = createSessionCache({ max: opts.maxCached });
  const m = opts.metrics;
  const flights = singleFlight<CachedSession>();
  const clients = new LRUCache<string, VaultClient>({ max: opts.maxCached ?? 10_000 });
  let closed = false;

  const clientFor =
    opts.clientFor ??
    ((tenant: Tenant) => {
      const id = `${tenant.id}|${tenant.vault.url}|${tenant.vault.apiVersion}`;
      let c = clients.get(id);
      if (!c) {
        c = createVaultClient({
          url: tenant.vault.url,
          apiVersion: tenant.vault.apiVersion,
          clientId: vaultClientId(opts.clientIdPrefix ?? 'vault-mcp', tenant.id),
          timeoutMs: opts.timeoutMs,
          maxRetries: opts.maxRetries,
          observe: m && {
            attempt: (status, ms) => m.vaultDuration.observe({ tenant: tenant.id, status }, ms / 1000),
            // Vault's types are a fixed vocabulary; anything else (a proxy's junk) must not mint series.
            failed: (type) =>
              m.vaultErrors.inc({ tenant: tenant.id, type: /^[A-Z0-9_]{1,64}$/.test(type) ? type : 'OTHER' }),
          },
        });
        clients.set(id, c);
      }
      return c;
    });

  const usable = (s: StoredSession, now = Date.now()) =>
    now < s.expiresAt - margin && now - s.lastUsedAt < idle - margin;

  const deps: LoginDeps = {
    clientFor,
    secrets: opts.secrets,
    store: opts.store,
    oauthToken: opts.oauthToken,
    withServiceSession: (tenant, ctx, fn) => withSessionOf(tenant, ctx, modes.service_account, (s) => fn(s.sessionId)),
  };
  const modes: Record<LoginKind, LoginMode> = {
    service_account: serviceAccountLogin(deps),
    delegated: delegatedLogin(deps),
    oauth: oauthLogin(deps),
  };

  const keyFor = (tenant: Tenant, ctx: CallContext, mode: LoginMode) =>
    sessionKey(tenant, mode.kind, mode.subject(ctx));

  /**
   * A live session for the key: cached, stored by another caller or replica, or a fresh login (once).
   * `count`: this is a tool call's first lookup, counted as a cache hit or miss.
   */
  function sessionFor(tenant: Tenant, ctx: CallContext, mode: LoginMode, count = false): Promise<CachedSession> {
    const key = keyFor(tenant, ctx, mode);
    const hit = cache.get(key);
    const live = hit && usable(hit) ? hit : undefined;
    if (count) m?.vaultSessionCache.inc({ tenant: tenant.id, result: live ? 'hit' : 'miss' });
    if (live) return Promise.resolve(live);
    return flights.run(keyId(key), async () => {
      const who = await mode.identify(tenant, ctx);
      let createdHere = false;
      const s = await opts.store.getOrCreate(tenant, key, usable, async () => {
        createdHere = true;
        try {
          const fresh = await mode.login(tenant, ctx, who);
          m?.vaultLogins.inc({ tenant: tenant.id, mode: mode.kind, outcome: 'ok' });
          return { ...fresh, expiresAt: Date.now() + MAX_SESSION_MS };
        } catch (e) {
          m?.vaultLogins.inc({ tenant: tenant.id, mode: mode.kind, outcome: 'error' });
          throw e;
        }
      });
      const now = Date.now();
      const { created: _created, ...stored } = s;
      const entry: CachedSession = {
        ...stored,
        key,
        tenant,
        vaultUsername: who.vaultUsername || undefined,
        lastCallAt: now,
        lastPersistedAt: s.lastUsedAt,
        createdHere,
      };
      cache.set(entry);
      if (createdHere) opts.log?.info({ tenant: tenant.id, mode: mode.kind, vaultUser: s.vaultUserId }, 'vault login');
      return entry;
    });
  }

  /** Forget a session Vault rejected; only deletes the stored one if nobody replaced it meanwhile. */
  async function invalidate(s: CachedSession): Promise<void> {
    cache.delete(s.key, s.ref);
    await opts.store.remove(s.tenant, s.key, s.ref);
  }

  /** Run `fn` with the mode's session, re-logging in once if Vault says the session is invalid. */
  async function withSessionOf<T>(
    tenant: Tenant,
    ctx: CallContext,
    mode: LoginMode,
    fn: (s: CachedSession) => Promise<T>,
    count = false,
  ): Promise<T> {
    const s = await sessionFor(tenant, ctx, mode, count);
    try {
      return await fn(s);
    } catch (e) {
      if (!isVaultError(e, 'INVALID_SESSION_ID')) throw e;
      opts.log?.info({ tenant: tenant.id, mode: mode.kind }, 'vault session rejected; logging in again');
      m?.vaultRelogins.inc({ tenant: tenant.id });
      await invalidate(s);
      return fn(await sessionFor(tenant, ctx, mode));
    }
  }

  function used(s: CachedSession): void {
    const now = Date.now();
    s.lastUsedAt = now;
    s.lastCallAt = now;
    // Persist activity now and then, so other replicas do not treat a busy session as idle.
    if (now - s.lastPersistedAt > idle / 4) {
      s.lastPersistedAt = now;
      opts.store
        .touch(s.tenant, s.key, now)
        .catch((e: unknown) => opts.log?.warn({ err: (e as Error).message }, 'vault session touch failed'));
    }
  }

  async function keepAliveSweep(): Promise<void> {
    const now = Date.now();
    for (const s of cache.values()) {
      if (now - s.lastCallAt > keepWarm || !usable(s, now)) {
        if (!usable(s, now)) cache.delete(s.key, s.ref);
        continue;
      }
      if (opts.keepAlive === false || now - s.lastUsedAt < idle / 2) continue;
      try {
        await clientFor(s.tenant).keepAlive(s.sessionId);
        s.lastUsedAt = Date.now();
        s.lastPersistedAt = s.lastUsedAt;
        await opts.store.touch(s.tenant, s.key, s.lastUsedAt);
      } catch (e) {
        if (isVaultError(e, 'INVALID_SESSION_ID')) await invalidate(s).catch(() => undefined);
        else opts.log?.warn({ tenant: s.tenant.id, err: (e as Error).message }, 'vault keep-alive failed');
      }
    }
  }

  const interval = opts.keepAliveIntervalMs ?? Math.round(idle / 3);
  let sweeping: Promise<void> | undefined;
  const timer =
    interval > 0
      ? setInterval(() => void (sweeping ??= keepAliveSweep().finally(() => (sweeping = undefined))), interval)
      : undefined;
  timer?.unref();

  return {
    /**
     * Run `fn` with a live session for the caller. If Vault answers INVALID_SESSION_ID, the session is
     * dropped and `fn` runs once more on a fresh login; a second failure is returned to the caller.
     * Returns `fn`'s value with the Vault user the call acted as (a failure carries it: `actedAs(e)`).
     */
    async withSession<T>(ctx: CallContext, fn: (s: VaultSession) => Promise<T>): Promise<Acted<T>> {
      if (closed) throw new AppError('ERR_VAULT_UNAVAILABLE', 'The server is shutting down');
      const tenant = requireTenant(ctx);
      // The tenant's Vault URL may have changed: its old sessions must never reach the new host.
      for (const stale of cache.dropOtherVaults(tenant))
        opts.log?.info({ tenant: tenant.id, mode: stale.key.kind }, 'vault URL changed; session dropped');
      const mode = modes[tenant.vault.auth.mode];
      let vaultUser: string | undefined;
      try {
        const value = await withSessionOf(
          tenant,
          ctx,
          mode,
          async (s) => {
            // For the audit row: who this call acts as in Vault (a failed call acted too: kept on its error).
            vaultUser = s.vaultUsername ?? s.vaultUserId;
            const v = await fn({
              client: clientFor(tenant),
              sessionId: s.sessionId,
              vaultUserId: s.vaultUserId,
              mode: mode.kind,
            });
            used(s);
            return v;
          },
          true, // count this lookup as a cache hit or miss (once per call)
        );
        return { value, vaultUser };
      } catch (e) {
        throw vaultUser === undefined ? e : markActedAs(e, vaultUser);
      }
    },

    /** End a user's Vault session (access revoked, user removed): DELETE /session and drop it everywhere. */
    async revoke(tenant: Tenant, subject: string): Promise<boolean> {
      const kind = tenant.vault.auth.mode;
      const key: SessionKey = sessionKey(tenant, kind, kind === 'service_account' ? null : subject);
      cache.delete(key);
      const removed = await opts.store.remove(tenant, key);
      if (removed)
        await clientFor(tenant)
          .endSession(removed.sessionId)
          .catch(() => undefined);
      return Boolean(removed);
    },

    /** Run one keep-alive pass now (tests; the timer does this in production). */
    keepAliveNow: () => keepAliveSweep(),

    /**
     * Stop keep-alive. With a process-local store, end every session this process opened. With a
     * shared store, sessions are left to other replicas (they expire by inactivity): ending them on a
     * rolling deploy would force every replica to log in again.
     */
    async close(): Promise<void> {
      closed = true;
      if (timer) clearInterval(timer);
      await sweeping;
      if (!opts.store.shared) {
        const mine = cache.values().filter((s) => s.createdHere);
        // Per-user sessions first: delegated ones were opened through the service account session.
        const last = (s: CachedSession) => (s.key.kind === 'service_account' ? 1 : 0);
        mine.sort((a, b) => last(a) - last(b));
        for (const s of mine) {
          await clientFor(s.tenant)
            .endSession(s.sessionId)
            .catch(() => undefined);
          await opts.store.remove(s.tenant, s.key, s.ref).catch(() => undefined);
        }
      }
      cache.clear();
    },
  };
}

export type SessionManager = ReturnType<typeof createSessionManager>;

/** The tenant of the call, or a clear error when the user maps to none. */
export function requireTenant(ctx: CallContext): Tenant {
  if (!ctx.tenant) {
    throw new AppError(
      'ERR_TENANT_NOT_FOUND',
      'No Vault tenant is configured for your account (your email domain maps to no tenant)',
    );
  }
  return ctx.tenant;
}
