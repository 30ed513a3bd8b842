/**
 * The database as the server and the admin CLIs see it: `DATABASE_URL`, or the embedded Postgres under
 * `DATA_DIR` when it is unset, behind one pool configured from {@link Config}. With
 * `MIGRATION_DATABASE_URL` a second, small pool connects as the role that owns the schema: migrations,
 * provisioning and role management go through it, and the server's own role owns nothing.
 *
 * @module
 */
import path from 'node:path';
import type { Config } from '../config/index.js';
import { startEmbeddedPostgres, type EmbeddedDb } from './embedded.js';
import { createPool, type Pool } from './pool.js';

export interface Database {
  pool: Pool;
  /** The connection URL (DATABASE_URL or the embedded server's). */
  url: string;
  /** True when this process started an embedded Postgres (single-machine, local use). */
  embedded: boolean;
  /** The owner role's pool (MIGRATION_DATABASE_URL) for migrations and provisioning; else `pool`. */
  adminPool: Pool;
  /** The role `pool` connects as, when it is not the owner (it then needs grants); else undefined. */
  servingRole(): Promise<string | undefined>;
  /** Ends the pool, then stops an embedded server. */
  close(): Promise<void>;
}

/** What the embedded Postgres is: where its files are, its port, and whether another process runs it. */
export type EmbeddedInfo = Pick<EmbeddedDb, 'dataDir' | 'port' | 'relocated' | 'attached'>;

/**
 * @example
 * const db = await openDatabase(config, { onEmbedded: (pg) => log.info(pg, 'embedded Postgres') });
 * try { … db.pool … } finally { await db.close(); }
 */
export async function openDatabase(
  config: Readonly<Config>,
  opts: {
    onEmbedded?: (info: EmbeddedInfo) => void;
    onError?: (e: Error) => void;
    applicationName?: string;
    /** Use the embedded Postgres another process (`npm run dev`, `npm start`) already runs on DATA_DIR. */
    attach?: boolean;
  } = {},
): Promise<Database> {
  let embedded: EmbeddedDb | undefined;
  let url = config.db.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dir: path.join(config.db.dataDir, 'pg'),
      port: config.db.embeddedPort,
      attach: opts.attach,
    });
    const { dataDir, port, relocated, attached } = embedded;
    opts.onEmbedded?.({ dataDir, port, relocated, attached });
    url = embedded.url;
  }
  const pool = createPool({
    url,
    max: config.db.poolMax,
    statementTimeoutMs: config.db.statementTimeoutMs,
    tenantRoles: config.db.tenantRoles,
    applicationName: opts.applicationName,
    onError: opts.onError,
  });
  const migrationUrl = config.auditTrail.migrationDatabaseUrl;
  const adminPool = migrationUrl
    ? createPool({
        url: migrationUrl,
        max: 4,
        statementTimeoutMs: Math.max(config.db.statementTimeoutMs, 60_000),
        tenantRoles: config.db.tenantRoles,
        applicationName: `${opts.applicationName ?? 'vault-mcp'} (migrations)`,
        onError: opts.onError,
      })
    : pool;
  let serving: Promise<string | undefined> | undefined;
  return {
    pool,
    url,
    embedded: embedded !== undefined,
    adminPool,
    servingRole: () =>
      (serving ??= (async () => {
        if (adminPool === pool) return undefined;
        const me = async (p: Pool) => (await p.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
        const [server, owner] = await Promise.all([me(pool), me(adminPool)]);
        return server === owner ? undefined : server;
      })()),
    async close() {
      try {
        await pool.end();
        if (adminPool !== pool) await adminPool.end();
      } finally {
        await embedded?.stop();
      }
    },
  };
}
