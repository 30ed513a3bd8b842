/**
 * Identifier fuzzing (TENANCY-NOTES A3.5): only `t_` + 32 lower-case hex ever becomes a SchemaName,
 * checked before any SQL; quoting creates exactly the name given. A deterministic generator (seeded),
 * so a failure replays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateSchemaName, ident, parseSchemaName, type SchemaName } from '../../src/db/schema-name.js';
import { withTenant } from '../../src/db/with-tenant.js';
import { rng } from '../helpers/rng.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';

const VALID = 't_0123456789abcdef0123456789abcdef';

const NASTY: unknown[] = [
  '";drop schema control cascade;--',
  `${VALID}";drop schema control cascade;--`,
  'public',
  'control',
  'pg_catalog',
  'pg_toast',
  'pg_temp',
  'information_schema',
  '',
  ' ',
  't_',
  VALID.toUpperCase(),
  `T${VALID.slice(1)}`,
  VALID.replace('a', 'A'),
  VALID.replace('t', '\u0442'), // Cyrillic te
  VALID.replace('a', '\u0430'), // Cyrillic a
  VALID.replace('0', '\uff10'), // full-width zero
  `${VALID}\n`,
  `\n${VALID}`,
  ` ${VALID}`,
  `${VALID} `,
  `${VALID}\u0000`,
  `${VALID.slice(0, 20)}\u0000${VALID.slice(21)}`,
  VALID.slice(0, -1),
  `${VALID}0`,
  `t_${'a'.repeat(62)}`,
  `t_${'a'.repeat(1000)}`,
  `t_${'é'.repeat(32)}`,
  `"${VALID}"`,
  `${VALID}.audit_log`,
  `t-${VALID.slice(2)}`,
  `pg_${VALID.slice(2)}`,
  null,
  undefined,
  42,
  {},
  { toString: () => VALID },
  [VALID],
];

describe('schema name fuzzing', () => {
  it('rejects every hand-picked hostile value before any SQL', () => {
    for (const v of NASTY) assert.throws(() => parseSchemaName(v), TypeError, JSON.stringify(String(v)));
    assert.equal(parseSchemaName(VALID), VALID);
  });

  it('rejects 20,000 random strings and single-character mutations of a valid name', () => {
    const rand = rng(2026);
    const alphabet = 't_0123456789abcdefABCDEFxyz";\'.-\\ \n\u0000\u0430é$%`';
    const pick = (s: string) => s[Math.floor(rand() * s.length)]!;
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let s: string;
      if (i % 2) {
        s = Array.from({ length: Math.floor(rand() * 70) }, () => pick(alphabet)).join('');
      } else {
        const at = Math.floor(rand() * VALID.length);
        const op = Math.floor(rand() * 3);
        s =
          op === 0
            ? VALID.slice(0, at) + VALID.slice(at + 1)
            : op === 1
              ? VALID.slice(0, at) + pick(alphabet) + VALID.slice(at)
              : VALID.slice(0, at) + pick(alphabet) + VALID.slice(at + 1);
      }
      let ok = false;
      try {
        parseSchemaName(s);
        ok = true;
      } catch {
        // refused: ok stays false
      }
      // The only strings that may pass: exactly 34 chars, `t_`, then lower-case hex.
      const shapeOk =
        s.length === 34 && s.startsWith('t_') && [...s.slice(2)].every((c) => '0123456789abcdef'.includes(c));
      assert.equal(ok, shapeOk, JSON.stringify(s));
      if (ok) accepted++;
    }
    assert.ok(accepted > 0 && accepted < 20_000, `accepted ${accepted}`);
  });

  it('generated names are valid and distinct', () => {
    const names = new Set(Array.from({ length: 1000 }, () => generateSchemaName()));
    assert.equal(names.size, 1000);
    for (const n of names) assert.equal(parseSchemaName(n), n);
  });

  describe('in Postgres', () => {
    let db: TestDb;
    let pool: Pool;
    before(async () => {
      db = await createTestDatabase();
      pool = createPool({ url: db.url, max: 1, statementTimeoutMs: 10_000 });
    });
    after(async () => {
      await pool?.end();
      await db?.drop();
    });

    it('CREATE SCHEMA ${ident(s)} creates exactly s, and nothing else', async () => {
      const before = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_namespace');
      const names = Array.from({ length: 20 }, () => generateSchemaName());
      for (const s of names) await pool.query(`CREATE SCHEMA ${ident(s)}`);
      const { rows } = await pool.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname',
        [names],
      );
      assert.deepEqual(
        rows.map((r) => r.nspname),
        [...names].sort(),
      );
      const afterCount = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_namespace');
      assert.equal(Number(afterCount.rows[0]!.n), Number(before.rows[0]!.n) + 20);
    });

    it('withTenant refuses a name forged with a type cast, before touching the database', async () => {
      for (const forged of ['public', 'control', `${VALID}"; drop schema control; --`]) {
        await assert.rejects(
          withTenant(pool, forged as SchemaName, async () => assert.fail('fn must not run')),
          TypeError,
        );
      }
    });
  });
});
