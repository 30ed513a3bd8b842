/**
 * Static guards (TENANCY-NOTES A3.9), without ESLint: only src/db touches `pg` and the session's role
 * or search_path, only withTenant makes a TenantTx, and repository functions take the TenantTx first.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const files = sources('src').map((f) => ({ file: f.split(path.sep).join('/'), text: readFileSync(f, 'utf8') }));
const outsideDb = files.filter((f) => !f.file.startsWith('src/db/'));

describe('static tenancy guards over src/', () => {
  it('finds the sources (a guard over nothing guards nothing)', () => {
    assert.ok(files.some((f) => f.file === 'src/db/with-tenant.ts'));
    assert.ok(outsideDb.length > 10);
  });

  it("only src/db imports 'pg'", () => {
    const bad = outsideDb
      .filter((f) =>
        /from\s+['"]pg(?:\/[^'"]*)?['"]|require\(\s*['"]pg['"]\s*\)|import\(\s*['"]pg['"]\s*\)/.test(f.text),
      )
      .map((f) => f.file);
    assert.deepEqual(bad, []);
  });

  it('only src/db sets search_path or roles', () => {
    const bad = outsideDb.filter((f) => /search_path|\bSET\s+(?:LOCAL\s+)?ROLE\b/i.test(f.text)).map((f) => f.file);
    assert.deepEqual(bad, []);
  });

  it('only withTenant creates a TenantTx', () => {
    const bad = files
      .filter((f) => /as\s+TenantTx\b|<TenantTx>/.test(f.text) && f.file !== 'src/db/with-tenant.ts')
      .map((f) => f.file);
    assert.deepEqual(bad, []);
  });

  it('functions that take a TenantTx take it first', () => {
    const bad: string[] = [];
    for (const f of files) {
      for (const m of f.text.matchAll(/(?:function\s+\w+|\w+\s*=\s*(?:async\s*)?)\s*(?:<[^>]*>)?\(([^)]*)\)/g)) {
        const params = m[1]!
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
        const at = params.findIndex((p) => /^\w+\??\s*:\s*TenantTx\b/.test(p));
        if (at > 0) bad.push(`${f.file}: ${m[0]}`);
      }
    }
    assert.deepEqual(bad, []);
  });
});
