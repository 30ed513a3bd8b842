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
  return readOrCreateSecret(path.join(config.db.dataDir, 'secret.key'), 32, 'base64');
}

/**
 * The secret kept in `file` (readable by this OS user only), created with `bytes` random bytes if
 * missing. `wx`: when two processes race, the first write wins and both read the same value.
 *
 * @example
 * const password = await readOrCreateSecret(`${dir}.password`, 18, 'base64url');
 */
export async function readOrCreateSecret(
  file: string,
  bytes: number,
  encoding: 'base64' | 'base64url',
): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await writeFile(file, randomBytes(bytes).toString(encoding), { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}
