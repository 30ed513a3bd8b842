/**
 * `src/dev` (a token-minting issuer, the Vault simulator, `npm run dev`) never reaches production: no
 * module outside src/dev, test, bench and scripts imports it, and the production build
 * (`tsconfig.build.json`, what `npm start` and the image run) holds no `dev/` directory and loads
 * without it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEV = path.join(ROOT, 'src', 'dev');
/** Where dev code may be imported from. */
const ALLOWED = ['src/dev', 'test', 'bench', 'scripts'].map((d) => path.join(ROOT, d));
const SKIP = new Set(['node_modules', 'dist', '.data', '.git', 'coverage']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return ALLOWED.includes(p) ? [] : sources(p);
    return /\.(c|m)?(t|j)sx?$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module specifier of a file: static imports and re-exports, side-effect imports, import(), require(). */
function specifiers(code: string): string[] {
  const re =
    /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"`])([^'"`]+)\1|\bimport\s*\(\s*`([^`]*)`/g;
  return [...code.matchAll(re)].map((m) => m[2] ?? m[3]!);
}

/** Files (relative to the root) that import anything under src/dev. */
function devImporters(root: string, files: string[]): string[] {
  const dev = path.join(root, 'src', 'dev');
  return files.filter((file) =>
    specifiers(readFileSync(file, 'utf8')).some((s) => {
      if (!s.startsWith('.') && !s.startsWith('/')) return /(^|\/)src\/dev(\/|$)/.test(s);
      const target = path.resolve(path.dirname(file), s.replace(/\$\{[^}]*\}.*$/, ''));
      return target === dev || target.startsWith(dev + path.sep);
    }),
  );
}

it('no module outside src/dev, test, bench and scripts imports src/dev', () => {
  const files = sources(ROOT);
  assert.ok(files.includes(path.join(ROOT, 'src', 'main.ts')), 'the scan covers src/');
  assert.ok(files.length > 50, `only ${files.length} files scanned`);
  assert.deepEqual(
    devImporters(ROOT, files).map((f) => path.relative(ROOT, f)),
    [],
  );
});

it('the guard sees every import form that reaches src/dev', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'vmcp-guard-'));
  try {
    await mkdir(path.join(root, 'src', 'http'), { recursive: true });
    const bad = {
      'a.ts': "import { startDevIssuer } from '../dev/issuer.js';",
      'b.ts': "export * from '../dev/vault-sim/index.js';",
      'c.ts': "const m = await import('../dev/dev.js');",
      'd.ts': 'const m = await import(`../dev/${name}.js`);',
      'e.ts': "import '../dev';",
      'f.ts': "const x = require('../../src/dev/issuer.js');",
    };
    const good = { 'g.ts': "import { x } from './dev.js'; import y from '../devices/x.js';" };
    for (const [name, code] of Object.entries({ ...bad, ...good }))
      await writeFile(path.join(root, 'src', 'http', name), code);
    const found = devImporters(root, sources(root)).map((f) => path.basename(f));
    assert.deepEqual(found.sort(), Object.keys(bad).sort());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

let out: string | undefined;
after(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

it(
  'the production build holds no dev/ directory and its entry points load without it',
  { timeout: 180_000 },
  async () => {
    // A throw-away package root: the build, its package.json (ESM) and a link to node_modules.
    out = await mkdtemp(path.join(tmpdir(), 'vmcp-build-'));
    const dist = path.join(out, 'dist');
    await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist],
      { cwd: ROOT },
    );
    assert.ok(existsSync(path.join(dist, 'main.js')), 'dist/main.js built');
    assert.ok(existsSync(path.join(dist, 'stdio.js')), 'dist/stdio.js built');
    assert.ok(existsSync(path.join(dist, 'cli', 'migrate.js')), 'dist/cli/migrate.js built');
    assert.equal(existsSync(path.join(dist, 'dev')), false, 'dist/dev must not exist');
    assert.ok(existsSync(DEV), 'src/dev exists (npm run dev runs it through tsx)');

    // Loading the entry modules resolves their whole import graph: a stray import of dev code fails here.
    await writeFile(path.join(out, 'package.json'), JSON.stringify({ type: 'module' }));
    await symlink(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
    const entries = ['main.js', 'stdio.js'].map((f) => pathToFileURL(path.join(dist, f)).href);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `for (const u of ${JSON.stringify(entries)}) await import(u); console.log('loaded');`,
      ],
      { cwd: out, env: { PATH: process.env.PATH ?? '' } },
    );
    assert.equal(stdout.trim(), 'loaded');
  },
);
