/**
 * A dedicated Postgres connection that LISTENs on channels and reports, besides each notification,
 * whether it is certainly listening. Caches built on it (API keys) must trust their entries only
 * while `listening` is true and only for entries read during the current `generation`: notifications
 * sent while the connection was down are lost, so every loss of the connection bumps the generation
 * and tells the handlers `'*'` (callers drop what they cached), and the connection is re-established with backoff (a Postgres restart, a
 * failover, `pg_terminate_backend`). The connection counts as listening only once a probe it
 * NOTIFYs to itself has come back, and the probe is repeated every `pingIntervalMs`: a silently dead
 * connection, or one through a pooler that does not forward notifications (PgBouncer in transaction
 * mode: set `DB_LISTEN_URL` to a direct connection), is never trusted.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Payload prefix of the listener's own probes (never handed to handlers). */
const PROBE = '~probe:';

export interface NotifyListener {
  /** True once LISTEN succeeded on the current connection, false as soon as it is in doubt. */
  readonly listening: boolean;
  /** Changes on every connection loss and re-establishment (never on a notification). */
  readonly generation: number;
  /** Register a handler; called with (channel, payload) for each notification, and with `'*'` when notifications may have been missed. */
  on(fn: (channel: string, payload: string) => void): void;
  /** Resolves once listening (or after `ms`, whichever first): boot waits briefly for the cache to be usable. */
  ready(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * @example
 * const listener = createNotifyListener({ url, channels: ['vault_mcp_api_keys'] });
 * listener.on((ch, id) => cache.delete(id));
 */
export function createNotifyListener(opts: {
  url: string;
  channels: string[];
  pingIntervalMs?: number;
  maxBackoffMs?: number;
  onError?: (e: Error) => void;
  applicationName?: string;
}): NotifyListener {
  const handlers: ((channel: string, payload: string) => void)[] = [];
  const pingMs = opts.pingIntervalMs ?? 5_000;
  const maxBackoff = opts.maxBackoffMs ?? 5_000;
  let listening = false;
  let generation = 0;
  let client: pg.Client | undefined;
  let closed = false;
  let backoff = 100;
  let retry: NodeJS.Timeout | undefined;
  let ping: NodeJS.Timeout | undefined;
  const waiters = new Set<(ok: boolean) => void>();

  const emit = (channel: string, payload: string) => {
    for (const h of handlers) h(channel, payload);
  };

  /** The connection is in doubt: stop trusting caches at once, then reconnect. */
  function lost(c: pg.Client, e?: Error) {
    if (client !== c) return;
    client = undefined;
    if (ping) clearInterval(ping);
    if (e) opts.onError?.(e);
    listening = false;
    generation++;
    emit('*', '*');
    c.removeAllListeners('notification');
    c.on('error', () => undefined);
    void c.end().catch(() => undefined);
    if (!closed) {
      retry = setTimeout(() => void connect(), backoff);
      retry.unref();
      backoff = Math.min(maxBackoff, backoff * 2);
    }
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      connectionString: opts.url,
      keepAlive: true,
      application_name: opts.applicationName ?? 'vault-mcp-listen',
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
    });
    client = c;
    c.on('error', (e) => lost(c, e));
    c.on('end', () => lost(c, new Error('listen connection ended')));
    let awaited: { nonce: string; arrived: () => void } | undefined;
    c.on('notification', (n) => {
      if (n.payload === undefined) return;
      if (n.payload.startsWith(PROBE)) {
        if (awaited && n.payload === PROBE + awaited.nonce) awaited.arrived();
        return;
      }
      emit(n.channel, n.payload);
    });
    /** NOTIFY ourselves and wait for it: proves notifications reach this connection end to end. */
    const probe = async () => {
      const nonce = randomBytes(8).toString('hex');
      let timer: NodeJS.Timeout | undefined;
      const back = new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('listen probe did not come back')), pingMs);
        awaited = { nonce, arrived: resolve };
      });
      try {
        await c.query('SELECT pg_notify($1, $2)', [opts.channels[0], PROBE + nonce]);
        await back;
      } finally {
        // Also when the NOTIFY itself failed: the pending timeout must not reject later, unheard.
        clearTimeout(timer);
      }
    };
    try {
      await c.connect();
      for (const ch of opts.channels) await c.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
      await probe();
    } catch (e) {
      lost(c, e as Error);
      return;
    }
    if (client !== c || closed) return;
    listening = true;
    backoff = 100;
    // Anything cached before (while down) is stale: a fresh generation starts now.
    generation++;
    emit('*', '*');
    for (const w of waiters) w(true);
    waiters.clear();
    let probing = false;
    ping = setInterval(() => {
      if (probing) return;
      probing = true;
      probe().then(
        () => (probing = false),
        (e: Error) => lost(c, e),
      );
    }, pingMs);
    ping.unref();
  }

  void connect();

  return {
    get listening() {
      return listening;
    },
    get generation() {
      return generation;
    },
    on(fn) {
      handlers.push(fn);
    },
    ready(ms) {
      if (listening) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiters.delete(done);
          resolve(false);
        }, ms);
        const done = (ok: boolean) => {
          clearTimeout(t);
          resolve(ok);
        };
        waiters.add(done);
      });
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      if (ping) clearInterval(ping);
      listening = false;
      const c = client;
      client = undefined;
      for (const w of waiters) w(false);
      waiters.clear();
      if (c) {
        c.removeAllListeners('end');
        c.on('error', () => undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
