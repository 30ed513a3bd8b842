/**
 * The database as the server and the admin CLIs see it: `DATABASE_URL`, or the embedded Postgres under
 * `DATA_DIR` when it is unset, behind one pool configured from {@link Config}.
 *
 * @module
 */
import path from 'node:path';
import type { Config } from '../config/index.js';
import { startEmbeddedPostgres, type EmbeddedDb } from './embedded.js';
import { createPool, type Pool } from './pool.js';

export interface Database {
  pool: Pool;
  /** True when this process started an embedded Postgres (single-machine, local use). */
  embedded: boolean;
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
  return {
    pool,
    embedded: embedded !== undefined,
    async close() {
      try {
        await pool.end();
      } finally {
        await embedded?.stop();
      }
    },
  };
}
