/**
 * Logs are readable in a development terminal (pino-pretty) and JSON lines everywhere else: production,
 * pipes, files. Redaction holds in both.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/index.js';
import { createTestDatabase, type TestDb } from '../helpers/db.js';

/** A destination that records what it is given and says whether it is a terminal. */
function sink(isTTY: boolean): Writable & { text(): string; isTTY: boolean } {
  let text = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  }) as Writable & { text(): string; isTTY: boolean };
  w.isTTY = isTTY;
  w.text = () => text;
  return w;
}

const isJsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .every((l) => {
      try {
        return typeof JSON.parse(l) === 'object';
      } catch {
        return false;
      }
    });

describe('createLogger', () => {
  it('pretty in a terminal when asked: readable lines, secrets still redacted', () => {
    const out = sink(true);
    createLogger({ level: 'info', destination: out, pretty: true }).info(
      { tenant: 'acme', password: 'hunter2', req: { headers: { authorization: 'Bearer abc.def' } } },
      'tenant loaded',
    );
    const text = stripVTControlCharacters(out.text());
    assert.match(text, /INFO.*tenant loaded/);
    assert.match(text, /tenant: "acme"/);
    assert.ok(!isJsonLines(text), text);
    assert.ok(!text.includes('hunter2') && !text.includes('abc.def'), text);
    assert.match(text, /\[redacted\]/);
  });

  for (const [name, tty, pretty] of [
    ['pretty asked, not a terminal (a pipe, a file, a log collector)', false, true],
    ['a terminal, pretty not asked (production)', true, false],
  ] as const) {
    it(`JSON lines: ${name}`, () => {
      const out = sink(tty);
      createLogger({ level: 'info', destination: out, pretty }).info({ password: 'hunter2' }, 'hello');
      const line = JSON.parse(out.text()) as Record<string, unknown>;
      assert.equal(line.msg, 'hello');
      assert.equal(line.password, '[redacted]');
    });
  }
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe(
  'the server in a real terminal (util-linux script gives it a pty)',
  { skip: !hasScript && 'no `script`' },
  () => {
    let db: TestDb;
    before(async () => {
      db = await createTestDatabase();
    });
    after(async () => {
      await db?.drop();
    });

    /** Run `node src/main.ts` on a pty until it says it listens; return what the terminal showed. */
    const inTerminal = (env: Record<string, string>) =>
      new Promise<string>((resolve, reject) => {
        const cmd = `${JSON.stringify(process.execPath)} --import tsx src/main.ts`;
        const child = spawn('script', ['-qefc', cmd, '/dev/null'], {
          cwd: path.resolve(import.meta.dirname, '../..'),
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            DATABASE_URL: db.url,
            PORT: '0',
            LOG_LEVEL: 'info',
            ...env,
          },
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        });
        let out = '';
        const timer = setTimeout(() => {
          process.kill(-child.pid!, 'SIGKILL');
          reject(new Error(`no "vault-mcp listening" in 60 s:\n${out}`));
        }, 60_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('vault-mcp listening')) {
            clearTimeout(timer);
            child.once('exit', () => resolve(out));
            process.kill(-child.pid!, 'SIGTERM');
          }
        });
      });

    it('NODE_ENV=development: pretty lines', async () => {
      const out = await inTerminal({ NODE_ENV: 'development' });
      const line = out.split(/\r?\n/).find((l) => l.includes('vault-mcp listening'))!;
      assert.match(line, /INFO/);
      assert.ok(!line.trim().startsWith('{'), line);
    });

    it('NODE_ENV=production: JSON lines even in a terminal', async () => {
      const out = await inTerminal({ NODE_ENV: 'production', SECRET_KEY: 'x'.repeat(32) });
      const line = out.split(/\r?\n/).find((l) => l.includes('vault-mcp listening'))!;
      assert.equal((JSON.parse(line) as { msg: string }).msg, 'vault-mcp listening');
    });
  },
);
