/**
 * The embedded Postgres for real: as root in a 0700 directory (containers, CI runners), attached to by a
 * second process, and refusing a taken port with one clear line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runtimeBase, startEmbeddedPostgres, type EmbeddedDb } from '../../src/db/embedded.js';
import { PortInUseError } from '../../src/net/ports.js';
import { freePort } from '../helpers/server.js';

const isRoot = process.getuid?.() === 0;

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('embedded Postgres in a 0700 data parent', () => {
  let parent: string;
  let db: EmbeddedDb | undefined;
  const dirs = new Set<string>();

  before(async () => {
    // mkdtemp makes a 0700 directory: what a root home (/root) or `DATA_DIR=$(mktemp -d)` gives.
    parent = await mkdtemp(path.join(tmpdir(), 'vmcp-embedded-'));
    await chmod(parent, 0o700);
  });
  after(async () => {
    await db?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await rm(parent, { recursive: true, force: true });
  });

  it('starts, serves connections, keeps its data across a restart and says where it lives', async () => {
    const dir = path.join(parent, 'pg');
    const port = await freePort();
    db = await startEmbeddedPostgres({ dir, port, database: 'app' });
    dirs.add(db.dataDir);
    assert.equal(db.port, port);
    assert.equal(db.attached, false);
    const r = await query(db.url, 'SELECT current_database() AS db, current_user AS u');
    assert.deepEqual(r.rows[0], { db: 'app', u: 'postgres' });
    await query(db.url, 'CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)');

    if (isRoot) {
      // The postgres OS user cannot enter `parent`: the cluster moved somewhere it can, and says so.
      assert.ok(!db.dataDir.startsWith(parent + path.sep), db.dataDir);
      assert.match(db.relocated ?? '', new RegExp(`cannot enter ${parent}$`));
      assert.equal((await readFile(`${dir}.location`, 'utf8')).trim(), db.dataDir);
      assert.notEqual(statSync(db.dataDir).uid, 0, 'the cluster belongs to the postgres user');
      assert.equal(statSync(parent).mode & 0o777, 0o700, "the caller's directory is left as it was");
    } else {
      assert.equal(db.dataDir, dir);
      assert.equal(db.relocated, undefined);
    }
    // The password stays with the caller, readable by this OS user only.
    assert.equal(statSync(`${dir}.password`).mode & 0o077, 0);

    await db.stop();
    assert.equal(existsSync(path.join(db.dataDir, 'postmaster.pid')), false, 'stopped');
    db = await startEmbeddedPostgres({ dir, port, database: 'app' });
    assert.deepEqual((await query(db.url, 'SELECT x FROM kept')).rows, [{ x: 42 }]);
  });

  it('a second process attaches to the running cluster (whatever port it was given); stopping it leaves the cluster up', async () => {
    const dir = path.join(parent, 'pg');
    const other = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'cli', attach: true });
    assert.equal(other.attached, true);
    assert.equal(other.port, db!.port);
    assert.equal(other.dataDir, db!.dataDir);
    assert.deepEqual((await query(other.url, 'SELECT current_database() AS d')).rows, [{ d: 'cli' }]);
    await other.stop();
    assert.deepEqual((await query(db!.url, 'SELECT x FROM kept')).rows, [{ x: 42 }]);
  });

  it('without attach, a second start on a running cluster is refused, naming its pid and port', async () => {
    await assert.rejects(
      startEmbeddedPostgres({ dir: path.join(parent, 'pg'), port: await freePort() }),
      (e: Error) =>
        e.message.includes('already runs on') && e.message.includes(`port ${db!.port}`) && /pid \d+/.test(e.message),
    );
  });
});

describe('a stale postmaster.pid (a crash: the pid lives on in another process, nobody on the port)', () => {
  let parent: string;
  let db: EmbeddedDb | undefined;
  before(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'vmcp-embedded-stale-'));
  });
  after(async () => {
    await db?.stop();
    if (db) await rm(db.dataDir, { recursive: true, force: true });
    await rm(parent, { recursive: true, force: true });
  });

  it('is not mistaken for a running cluster: attaching starts the cluster instead', async () => {
    const dir = path.join(parent, 'pg');
    const port = await freePort();
    db = await startEmbeddedPostgres({ dir, port });
    await db.stop();
    // This process is alive; Postgres itself treats its parent's pid in the file as stale.
    const stalePort = await freePort();
    await writeFile(
      path.join(db.dataDir, 'postmaster.pid'),
      `${process.pid}\n${db.dataDir}\n0\n${stalePort}\n\n127.0.0.1\n`,
    );
    db = await startEmbeddedPostgres({ dir, port, attach: true });
    assert.equal(db.attached, false);
    assert.equal(db.port, port);
    assert.equal((await query(db.url, 'SELECT 1 AS one')).rows[0].one, 1);
  });
});

describe('a taken port', () => {
  let holder: Server;
  let port: number;
  let parent: string;
  before(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'vmcp-embedded-port-'));
    holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    port = (holder.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((r) => holder.close(r));
    await rm(parent, { recursive: true, force: true });
  });

  it('is refused before anything is created, naming the port and its variable', async () => {
    const dir = path.join(parent, 'pg');
    await assert.rejects(startEmbeddedPostgres({ dir, port, portVariable: 'TEST_PG_PORT' }), (e: Error) => {
      assert.ok(e instanceof PortInUseError);
      assert.equal(
        e.message,
        `port ${port} on 127.0.0.1 is already in use (TEST_PG_PORT): stop the process holding it or set TEST_PG_PORT to a free port`,
      );
      return true;
    });
    assert.equal(existsSync(path.join(dir, 'PG_VERSION')), false);
  });
});

describe('as root: where a relocated cluster may live', { skip: !isRoot && 'needs root' }, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'vmcp-embedded-base-'));
    await chmod(root, 0o755);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('only a root-owned directory nobody else may write to, not a symlink, that the postgres user can enter', async () => {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
    const as = { uid: id('-u'), gid: id('-g') };
    const dir = (name: string) => path.join(root, name);
    // Someone else's directory could swap the binaries or the cluster under us.
    await mkdir(dir('foreign'));
    await chown(dir('foreign'), as.uid, as.gid);
    await mkdir(dir('open'));
    await chmod(dir('open'), 0o777);
    await mkdir(dir('good-elsewhere'), { mode: 0o755 });
    await symlink(dir('good-elsewhere'), dir('link'));
    // Root's and closed: the postgres user cannot enter it.
    await mkdir(dir('closed'), { mode: 0o700 });
    const fresh = path.join(root, 'var', 'vault-mcp');

    const bases = ['foreign', 'open', 'link', 'closed'].map(dir);
    assert.equal(await runtimeBase(as, [...bases, fresh]), fresh);
    assert.equal(statSync(fresh).mode & 0o777, 0o755);
    assert.equal(statSync(fresh).uid, 0);
    await assert.rejects(runtimeBase(as, bases), (e: Error) => {
      for (const b of ['foreign', 'open', 'link'])
        assert.ok(e.message.includes(`${dir(b)} (not a root-owned directory closed to others)`), e.message);
      assert.ok(e.message.includes(`${dir('closed')} (the postgres user cannot enter it)`), e.message);
      assert.match(e.message, /set DATABASE_URL$/);
      return true;
    });
  });
});
