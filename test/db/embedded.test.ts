import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

it(
  'as root, a data directory the postgres user cannot reach is refused up front, naming the directory',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async () => {
    // mkdtemp makes a 0700 directory: exactly what `DATA_DIR=$(mktemp -d) npm run dev` gives.
    const parent = await mkdtemp(path.join(tmpdir(), 'vmcp-embedded-'));
    try {
      await assert.rejects(
        startEmbeddedPostgres({ dir: path.join(parent, 'pg'), port: 1 }),
        (e: Error) =>
          e.message.includes(`cannot enter ${parent} (mode 700)`) && e.message.includes(`chmod o+x ${parent}`),
      );
      assert.equal(existsSync(path.join(parent, 'pg.password')), false, 'nothing written before the refusal');
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  },
);
