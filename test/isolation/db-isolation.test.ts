/**
 * Adversarial tenant isolation at the database layer (TENANCY-NOTES A3): twin tenants with canaries,
 * pool poisoning, interleaving, fall-through, per-role privileges and escaped transactions.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { withTenant, type TenantTx } from '../../src/db/with-tenant.js';
import type { Provisioned } from '../../src/tenancy/index.js';
import { rng } from '../helpers/rng.js';
import { canary, createTenantDb, dumpTenant, plantCanary, tenantInput, type TenantDb } from '../helpers/tenants.js';

const pgCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

describe('tenant isolation in the database', () => {
  let t: TenantDb;
  let a: Provisioned;
  let b: Provisioned;
  const markA = canary('A');
  const markB = canary('B');

  before(async () => {
    t = await createTenantDb({ poolMax: 2 });
    const twins = await t.provision([tenantInput('twin-a', ['a.example']), tenantInput('twin-b', ['b.example'])]);
    a = twins[0]!;
    b = twins[1]!;
    await plantCanary(t.pool, a, markA);
    await plantCanary(t.pool, b, markB);
  });
  after(async () => {
    await t?.close();
  });

  it('twin tenants: each sees its own canary in every table and never the other one', async () => {
    const dumpA = await dumpTenant(t.pool, a);
    const dumpB = await dumpTenant(t.pool, b);
    assert.ok(dumpA.includes(markA) && dumpB.includes(markB));
    assert.ok(!dumpA.includes(markB), 'B leaked into A');
    assert.ok(!dumpB.includes(markA), 'A leaked into B');
  });

  it("cross-tenant ids answer 'not found': B's keys do not exist in A", async () => {
    const r = await withTenant(t.pool, a, (tx) =>
      tx.query('SELECT 1 FROM user_mappings WHERE subject = $1 UNION ALL SELECT 1 FROM vault_sessions WHERE key = $1', [
        markB,
      ]),
    );
    assert.equal(r.rowCount, 0);
  });

  it('per-tenant role: reading another schema or the control schema fails with 42501', async () => {
    await assert.rejects(
      withTenant(t.pool, a, (tx) => tx.query(`SELECT * FROM "${b.schema}".audit_log`)),
      pgCode('42501'),
    );
    await assert.rejects(
      withTenant(t.pool, a, (tx) => tx.query('SELECT * FROM control.tenants')),
      pgCode('42501'),
    );
    await assert.rejects(
      withTenant(t.pool, a, (tx) =>
        tx.query(`INSERT INTO "${b.schema}".user_mappings (subject, email) VALUES ('x', 'x')`),
      ),
      pgCode('42501'),
    );
    // The tenant role cannot change its own tables' shape either (they belong to the migrating user),
    // and the audit log is append-only for it.
    await assert.rejects(
      withTenant(t.pool, a, (tx) => tx.query('DROP TABLE audit_log')),
      pgCode('42501'),
    );
    for (const sql of ["UPDATE audit_log SET outcome = 'forged'", 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
      await assert.rejects(
        withTenant(t.pool, a, (tx) => tx.query(sql)),
        pgCode('42501'),
        sql,
      );
    }
    const appended = await withTenant(t.pool, a, (tx) =>
      tx.query("INSERT INTO audit_log (subject, outcome) VALUES ($1, 'ok') RETURNING id", [markA]),
    );
    assert.equal(appended.rowCount, 1);
    assert.ok((await dumpTenant(t.pool, b)).includes(markB));
  });

  it('refuses statements that would move a tenant transaction to another role or path', async () => {
    for (const sql of [
      'RESET ROLE',
      'SET ROLE postgres',
      'set local role none',
      'SET SESSION AUTHORIZATION DEFAULT',
      `SET search_path = "${b.schema}"`,
      `SELECT set_config('search_path', '${b.schema}', true)`,
      'DISCARD ALL',
    ]) {
      await assert.rejects(
        withTenant(t.pool, a, (tx) => tx.query(sql)),
        /statement refused/,
        sql,
      );
    }
    await assert.rejects(
      withTenant(t.pool, a, (tx) => tx.query('SELECT 1; RESET ROLE')),
      /statement refused/,
    );
    // Ordinary statements that merely contain the words are fine (a column named role, a literal).
    const ok = await withTenant(t.pool, a, async (tx) => {
      await tx.query('UPDATE user_mappings SET email = email WHERE false');
      return tx.query("SELECT 'set role' AS role, 1 AS discard");
    });
    assert.deepEqual(ok.rows, [{ role: 'set role', discard: 1 }]);
  });

  it('a transaction object that escaped withTenant is dead (it would otherwise run on a reused connection)', async () => {
    let leaked: TenantTx | undefined;
    await withTenant(t.pool, a, async (tx) => {
      leaked = tx;
    });
    await assert.rejects(leaked!.query('SELECT 1'), /already finished/);
    let failed: TenantTx | undefined;
    await assert.rejects(
      withTenant(t.pool, a, async (tx) => {
        failed = tx;
        throw new Error('boom');
      }),
    );
    await assert.rejects(failed!.query('SELECT 1'), /already finished/);
  });

  it('pool poisoning (max 1): a failed transaction leaves no search_path or role behind', async () => {
    const { createPool } = await import('../../src/db/pool.js');
    const pool = createPool({ url: t.db.url, max: 1, statementTimeoutMs: 10_000 });
    try {
      const before = await pool.query<{ path: string; who: string }>(
        "SELECT current_setting('search_path') AS path, current_user AS who",
      );
      // Fails in the middle: after the path and role were set, in a JS throw and in an SQL error.
      await assert.rejects(
        withTenant(pool, a, async (tx) => {
          await tx.query('SELECT count(*) FROM audit_log');
          throw new Error('tool crashed');
        }),
        /tool crashed/,
      );
      await assert.rejects(
        withTenant(pool, a, (tx) => tx.query('SELECT 1/0')),
        pgCode('22012'),
      );
      const afterFail = await pool.query<{ path: string; who: string }>(
        "SELECT current_setting('search_path') AS path, current_user AS who",
      );
      assert.deepEqual(afterFail.rows[0], before.rows[0]);
      // The next tenant on the same (only) connection sees only itself.
      const dump = await dumpTenant(pool, b);
      assert.ok(dump.includes(markB) && !dump.includes(markA));
      const inside = await withTenant(pool, b, (tx) =>
        tx.query<{ path: string; who: string }>("SELECT current_setting('search_path') AS path, current_user AS who"),
      );
      assert.equal(inside.rows[0]!.who, b.schema);
      assert.equal(inside.rows[0]!.path, `"${b.schema}", pg_temp`);
    } finally {
      await pool.end();
    }
  });

  it('200 interleaved requests of two tenants on a pool of 2, with random awaits: every one sees its own tenant', async () => {
    const rand = rng(42);
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const mine = rand() < 0.5 ? a : b;
        const mark = mine === a ? markA : markB;
        await sleep(Math.floor(rand() * 5));
        return withTenant(t.pool, mine, async (tx) => {
          const first = await tx.query<{ subject: string }>('SELECT subject FROM user_mappings');
          await sleep(Math.floor(rand() * 3));
          const who = await tx.query<{ who: string }>('SELECT current_user AS who');
          const audit = await tx.query<{ subject: string }>('SELECT subject FROM audit_log');
          return {
            i,
            ok:
              first.rows.every((r) => r.subject === mark) &&
              audit.rows.every((r) => r.subject === mark) &&
              who.rows[0]!.who === mine.schema,
          };
        });
      }),
    );
    assert.equal(results.length, 200);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
  });

  it('a dropped table fails with 42P01 instead of reading public, control or another tenant', async () => {
    const admin = await t.pool.connect();
    try {
      await admin.query(`CREATE TABLE public.user_mappings (subject text, email text)`);
      await admin.query(`INSERT INTO public.user_mappings VALUES ('public-decoy', 'x')`);
      await admin.query(`GRANT SELECT ON public.user_mappings TO PUBLIC`);
      await admin.query(`DROP TABLE "${a.schema}".user_mappings`);
    } finally {
      admin.release();
    }
    await assert.rejects(
      withTenant(t.pool, a, (tx) => tx.query('SELECT * FROM user_mappings')),
      pgCode('42P01'),
    );
    // Nor can a temp table stand in for it: temp tables outlive transactions on pooled connections.
    await assert.rejects(
      withTenant(t.pool, a, (tx) => tx.query('CREATE TEMP TABLE user_mappings (subject text)')),
      pgCode('42501'),
    );
    assert.ok((await dumpTenant(t.pool, b)).includes(markB));
  });
});

describe('tenant isolation with DB_TENANT_ROLES=false (search_path only)', () => {
  let t: TenantDb;
  before(async () => {
    t = await createTenantDb({ roles: false });
  });
  after(async () => {
    await t?.close();
  });

  it('provisions without roles and still keeps twin tenants apart', async () => {
    const [a, b] = await t.provision([tenantInput('r-a', ['ra.example']), tenantInput('r-b', ['rb.example'])]);
    const { rowCount } = await t.pool.query('SELECT 1 FROM pg_roles WHERE rolname = ANY($1)', [[a!.schema, b!.schema]]);
    assert.equal(rowCount, 0);
    const ma = canary('RA');
    const mb = canary('RB');
    await plantCanary(t.pool, a!, ma);
    await plantCanary(t.pool, b!, mb);
    const dumpA = await dumpTenant(t.pool, a!);
    assert.ok(dumpA.includes(ma) && !dumpA.includes(mb));
  });
});
