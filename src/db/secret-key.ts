/**
 * The SECRET_KEY a process should use: the configured one, or, for the embedded (single-machine)
 * setup, a generated key kept beside its database (readable by this OS user only), so the server and
 * the admin CLIs (`audit verify`) agree on it across restarts.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';

/**
 * @example
 * const secretKey = await stableSecretKey(config, db.embedded); // undefined: no stable key
 */
export async function stableSecretKey(config: Readonly<Config>, embedded: boolean): Promise<string | undefined> {
  if (config.secretKey) return config.secretKey;
  if (!embedded) return undefined;
  const file = path.join(config.db.dataDir, 'secret.key');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const key = randomBytes(32).toString('base64');
    await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}
