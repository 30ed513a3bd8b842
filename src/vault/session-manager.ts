/**
 * One Vault session per (tenant, user) — or per tenant in `service_account` mode — however many calls
 * arrive at once:
 *
 * - in-process single flight (a Map of pending logins) so N concurrent first calls share one login;
 * - a {@link SessionStore} that serialises logins across replicas (advisory lock in Postgres) and keeps
 *   the session id encrypted at rest;
 * - reuse until near the inactivity timeout or the 48 h maximum, background keep-alive for sessions
 *   in recent use, and exactly one transparent re-login when Vault answers INVALID_SESSION_ID.
 *
 * Modes (tenant.vault.auth.mode): `service_account` (one shared session; visibility is the service
 * account's), `delegated` (the service account opens a delegated session as the user's Vault id,
 * found by email), `oauth` (the tenant's OAuth/OIDC profile, fed by a Vault-audience token from the
 * injected `oauthToken` source — never the MCP access token).
 *
 * @module
 */
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { CallContext } from '../mcp/context.js';
import type { Metrics } from '../metrics/index.js';
import type { Tenant } from '../tenancy/tenant.js';
import { createVaultClient, vaultClientId, type AuthResult, type VaultClient } from './client.js';
import { isVaultError, VaultError } from './errors.js';
import { readSecretFile } from './secret-file.js';
import type { NewSession, SessionStore, StoredSession, UserMapping } from './session-store.js';
import { vqlString } from './vql.js';

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
  /** Most sessions kept in memory (VAULT_SESSION_CACHE_MAX); the least recently used are dropped (a shared store still has them). Default 10,000. */
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

interface Cached extends StoredSession {
  tenant: Tenant;
  key: string;
  /** The Vault user name, when known here (service account: from the config; delegated: the user mapping). */
  vaultUsername?: string;
  /** Last tool call using it (keep-alive stops once a session is cold). */
  lastCallAt: number;
  lastPersistedAt: number;
  createdHere: boolean;
}

/**
 * @example
 * const sessions = createSessionManager({ store, secrets: (n) => env[n] });
 * const docs = await sessions.withSession(ctx, (s) => s.client.query(s.sessionId, 'SELECT id FROM documents'));
 */
export function createSessionManager(opts: SessionManagerOptions) {
  const idle = opts.idleTimeoutMs ?? 10 * 60 * 1000;
  const margin = opts.marginMs ?? Math.min(60_000, Math.round(idle * 0.1));
  const keepWarm = opts.keepWarmMs ?? 30 * 60 * 1000;
  const cache = new LRUCache<string, Cached>({ max: opts.maxCached ?? 10_000 });
  const m = opts.metrics;
  const inflight = new Map<string, Promise<Cached>>();
  const clients = new Map<string, VaultClient>();
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
  const cacheKey = (t: Tenant, key: string) => `${t.id}\u0000${key}`;

  function keyFor(tenant: Tenant, ctx: CallContext): string {
    return tenant.vault.auth.mode === 'service_account'
      ? 'sa'
      : `${tenant.vault.auth.mode === 'delegated' ? 'dg' : 'oa'}:${ctx.user.subject}`;
  }

  function password(tenant: Tenant): string {
    const auth = tenant.vault.auth;
    if (auth.mode === 'oauth') throw new TypeError('no password in oauth mode');
    if (auth.passwordEnv) {
      const v = opts.secrets(auth.passwordEnv);
      if (!v)
        throw new AppError(
          'ERR_VAULT_AUTH',
          `Tenant ${tenant.id}: the environment variable ${auth.passwordEnv} (vault.auth.passwordEnv) is not set`,
        );
      return v;
    }
    if (auth.passwordFile) {
      try {
        return readSecretFile(auth.passwordFile, `tenant ${tenant.id} vault.auth.passwordFile`);
      } catch (e) {
        throw new AppError('ERR_VAULT_AUTH', (e as Error).message);
      }
    }
    throw new AppError('ERR_VAULT_AUTH', `Tenant ${tenant.id}: vault.auth needs passwordEnv or passwordFile`);
  }

  const fromAuth = (r: AuthResult | { sessionId: string; userId: string | number }): NewSession => ({
    sessionId: r.sessionId,
    vaultUserId: String(r.userId),
    expiresAt: Date.now() + MAX_SESSION_MS,
  });

  /** Get a live session for (tenant, key), logging in at most once across callers and replicas. */
  async function acquire(tenant: Tenant, key: string, login: () => Promise<NewSession>): Promise<Cached> {
    const ck = cacheKey(tenant, key);
    const hit = cache.get(ck);
    if (hit && usable(hit)) return hit;
    let p = inflight.get(ck);
    if (!p) {
      p = (async () => {
        let createdHere = false;
        const s = await opts.store.getOrCreate(
          tenant,
          key,
          (x) => usable(x),
          async () => {
            createdHere = true;
            const mode = MODE_BY_PREFIX[key.split(':')[0]!] ?? 'service_account';
            try {
              const fresh = await login();
              m?.vaultLogins.inc({ tenant: tenant.id, mode, outcome: 'ok' });
              return fresh;
            } catch (e) {
              m?.vaultLogins.inc({ tenant: tenant.id, mode, outcome: 'error' });
              throw e;
            }
          },
        );
        const now = Date.now();
        const entry: Cached = { ...s, tenant, key, lastCallAt: now, lastPersistedAt: s.lastUsedAt, createdHere };
        cache.set(ck, entry);
        if (createdHere)
          opts.log?.info({ tenant: tenant.id, key: redactKey(key), vaultUser: s.vaultUserId }, 'vault login');
        return entry;
      })().finally(() => inflight.delete(ck));
      inflight.set(ck, p);
    }
    return p;
  }

  /** Forget a session Vault rejected; only deletes the stored one if nobody replaced it meanwhile. */
  async function invalidate(s: Cached): Promise<void> {
    const ck = cacheKey(s.tenant, s.key);
    if (cache.get(ck)?.ref === s.ref) cache.delete(ck);
    await opts.store.remove(s.tenant, s.key, s.ref);
  }

  async function serviceSession(tenant: Tenant): Promise<Cached> {
    const auth = tenant.vault.auth;
    if (auth.mode === 'oauth') throw new TypeError('no service account in oauth mode');
    const s = await acquire(tenant, 'sa', async () =>
      fromAuth(await clientFor(tenant).auth(auth.username, password(tenant))),
    );
    s.vaultUsername = auth.username;
    return s;
  }

  /** Run `fn` with the service account session, re-logging in once if Vault says it is invalid. */
  async function withServiceSession<T>(tenant: Tenant, fn: (s: Cached) => Promise<T>): Promise<T> {
    const s = await serviceSession(tenant);
    try {
      return await fn(s);
    } catch (e) {
      if (!isVaultError(e, 'INVALID_SESSION_ID')) throw e;
      m?.vaultRelogins.inc({ tenant: tenant.id });
      await invalidate(s);
      return fn(await serviceSession(tenant));
    }
  }

  /** The user's Vault id and name, looked up by verified email once and remembered in user_mappings. */
  async function vaultUserFor(tenant: Tenant, ctx: CallContext): Promise<UserMapping> {
    const known = await opts.store.getMapping(tenant, ctx.user.subject);
    const email = ctx.user.email?.toLowerCase();
    if (known && known.email === email) return known;
    if (!email || !ctx.user.emailVerified) {
      throw new AppError('ERR_VAULT_ACCESS', 'Delegated Vault access needs a verified email address in your token');
    }
    const rows = await withServiceSession(
      tenant,
      async (s) =>
        (
          await clientFor(tenant).query<{ id: unknown; user_name__v: unknown; status__v?: unknown }>(
            s.sessionId,
            `SELECT id, user_name__v, status__v FROM users WHERE user_email__v = ${vqlString(email)}`,
          )
        ).data,
    );
    const active = rows.filter((r) => r.status__v === undefined || r.status__v === 'active__v');
    if (active.length !== 1) {
      throw new AppError(
        'ERR_VAULT_ACCESS',
        active.length
          ? `Several active Vault users have the email ${email}; ask your Vault admin to make it unique`
          : `No active Vault user has the email ${email}`,
      );
    }
    const mapping = { email, vaultUserId: String(active[0]!.id), vaultUsername: String(active[0]!.user_name__v) };
    await opts.store.putMapping(tenant, ctx.user.subject, mapping);
    return mapping;
  }

  async function userSession(tenant: Tenant, ctx: CallContext, key: string): Promise<Cached> {
    const auth = tenant.vault.auth;
    const client = clientFor(tenant);
    if (auth.mode === 'oauth') {
      if (!opts.oauthToken) {
        throw new AppError(
          'ERR_VAULT_AUTH',
          `Tenant ${tenant.id} uses vault.auth.mode "oauth" but no Vault token source is configured on this server`,
        );
      }
      const source = opts.oauthToken;
      return acquire(tenant, key, async () =>
        fromAuth(await client.oauthSession(auth.profileId, await source(ctx, tenant), { clientId: auth.clientId })),
      );
    }
    // Delegated: resolve the user and the service session outside the per-user lock, so a login
    // never waits for a second pooled connection while holding one.
    const cached = cache.get(cacheKey(tenant, key));
    if (cached && usable(cached)) return cached;
    const { vaultUserId, vaultUsername } = await vaultUserFor(tenant, ctx);
    const s = await withServiceSession(tenant, async (sa) =>
      acquire(tenant, key, async () => {
        const grants = (await client.delegations(sa.sessionId)).filter(
          (d) => String(d.delegator_userid) === vaultUserId,
        );
        // The user may have granted access in several Vaults of the domain: take this tenant's.
        const host = new URL(tenant.vault.url).host;
        const grant = grants.find((d) => d.dns === host) ?? (grants.length === 1 ? grants[0] : undefined);
        if (!grant) {
          throw new VaultError(
            'ERR_VAULT_ACCESS',
            'INSUFFICIENT_ACCESS',
            `Vault user ${vaultUserId} has not granted delegate access to the service account ${auth.username}`,
          );
        }
        const delegated = await client.delegationLogin(sa.sessionId, grant.id, vaultUserId);
        return fromAuth({ sessionId: delegated, userId: vaultUserId });
      }),
    );
    s.vaultUsername = vaultUsername || undefined;
    return s;
  }

  // Per-user resolution (mapping lookup, delegation) is single-flight too, not only the login.
  const resolving = new Map<string, Promise<Cached>>();
  function sessionFor(tenant: Tenant, ctx: CallContext): Promise<Cached> {
    const key = keyFor(tenant, ctx);
    if (key === 'sa') return serviceSession(tenant);
    const ck = cacheKey(tenant, key);
    const hit = cache.get(ck);
    if (hit && usable(hit)) return Promise.resolve(hit);
    let p = resolving.get(ck);
    if (!p) {
      p = userSession(tenant, ctx, key).finally(() => resolving.delete(ck));
      resolving.set(ck, p);
    }
    return p;
  }

  function used(s: Cached): void {
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
    for (const [ck, s] of [...cache.entries()]) {
      if (now - s.lastCallAt > keepWarm || !usable(s, now)) {
        if (!usable(s, now)) cache.delete(ck);
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
     */
    async withSession<T>(ctx: CallContext, fn: (s: VaultSession) => Promise<T>): Promise<T> {
      if (closed) throw new AppError('ERR_VAULT_UNAVAILABLE', 'The server is shutting down');
      const tenant = requireTenant(ctx);
      const hit = cache.get(cacheKey(tenant, keyFor(tenant, ctx)));
      m?.vaultSessionCache.inc({ tenant: tenant.id, result: hit && usable(hit) ? 'hit' : 'miss' });
      const run = async (s: Cached) => {
        // For the audit row: who this call acts as in Vault (set before the call: a failed call acted too).
        ctx.vaultUser = s.vaultUsername ?? s.vaultUserId;
        const r = await fn({
          client: clientFor(tenant),
          sessionId: s.sessionId,
          vaultUserId: s.vaultUserId,
          mode: tenant.vault.auth.mode,
        });
        used(s);
        return r;
      };
      const s = await sessionFor(tenant, ctx);
      try {
        return await run(s);
      } catch (e) {
        if (!isVaultError(e, 'INVALID_SESSION_ID')) throw e;
        opts.log?.info({ tenant: tenant.id }, 'vault session rejected; logging in again');
        m?.vaultRelogins.inc({ tenant: tenant.id });
        await invalidate(s);
        return run(await sessionFor(tenant, ctx));
      }
    },

    /** End a user's Vault session (access revoked, user removed): DELETE /session and drop it everywhere. */
    async revoke(tenant: Tenant, subject: string): Promise<boolean> {
      const key =
        tenant.vault.auth.mode === 'service_account'
          ? 'sa'
          : `${tenant.vault.auth.mode === 'delegated' ? 'dg' : 'oa'}:${subject}`;
      cache.delete(cacheKey(tenant, key));
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
        const mine = [...cache.values()].filter((s) => s.createdHere);
        // Delegated sessions first: they were opened through the service account session.
        mine.sort((a, b) => (a.key === 'sa' ? 1 : 0) - (b.key === 'sa' ? 1 : 0));
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

/** The login a cache key stands for (metrics label). */
const MODE_BY_PREFIX: Record<string, Tenant['vault']['auth']['mode']> = {
  sa: 'service_account',
  dg: 'delegated',
  oa: 'oauth',
};

/** Keys carry subjects; log only the mode prefix. */
function redactKey(key: string): string {
  return key.split(':')[0] ?? key;
}
