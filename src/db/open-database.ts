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
  /** The connection URL (DATABASE_URL or the embedded server's). */
  url: string;
  /** True when this process started an embedded Postgres (single-machine, local use). */
  embedded: boolean;
  /** Ends the pool, then stops an embedded server. */
  close(): Promise<void>;
}

/**
 * @example
 * const db = await openDatabase(config, { onEmbedded: (dir) => log.info({ dir }, 'embedded Postgres') });
 * try { … db.pool … } finally { await db.close(); }
 */
export async function openDatabase(
  config: Readonly<Config>,
  opts: { onEmbedded?: (dir: string) => void; onError?: (e: Error) => void; applicationName?: string } = {},
): Promise<Database> {
  let embedded: EmbeddedDb | undefined;
  let url = config.db.url;
  if (!url) {
    const dir = path.join(config.db.dataDir, 'pg');
    opts.onEmbedded?.(path.resolve(dir));
    embedded = await startEmbeddedPostgres({ dir, port: config.db.embeddedPort });
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
    url,
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
