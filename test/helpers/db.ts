/**
 * A fresh database per test file, created from DATABASE_URL (set by `npm test`) and dropped after,
 * together with the tenant roles it created (roles are cluster-wide).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDb {
  url: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

export async function createTestDatabase(): Promise<TestDb> {
  const base = new URL(adminUrl());
  const name = `vmcp_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url.toString() });
      let roles: string[];
      try {
        await c.connect();
        const r = await c
          .query<{ s: string }>('SELECT schema_name AS s FROM control.tenants')
          .catch(() => ({ rows: [] as { s: string }[] }));
        const dropped = await c.query<{ s: string }>(
          "SELECT nspname AS s FROM pg_namespace WHERE nspname ~ '^t_[0-9a-f]{32}$'",
        );
        roles = [...new Set([...r.rows, ...dropped.rows].map((x) => x.s))];
        for (const role of roles)
          await c.query(`DROP OWNED BY ${pg.escapeIdentifier(role)} CASCADE`).catch(() => undefined);
      } finally {
        await c.end().catch(() => undefined);
      }
      const a = new pg.Client({ connectionString: base.toString() });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
        for (const role of roles)
          await a.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`).catch(() => undefined);
      } finally {
        await a.end();
      }
    },
  };
}
