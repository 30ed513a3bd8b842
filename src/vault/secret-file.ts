/**
 * Read a password from a file, refusing files that other users could read (mode & 0o077), like ssh
 * does for private keys. Used for tenant `passwordFile` and stdio `VAULT_PASSWORD_FILE`.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';

/**
 * @example
 * const password = readSecretFile('/run/secrets/vault-password', 'VAULT_PASSWORD_FILE');
 */
export function readSecretFile(path: string, what: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw new TypeError(`${what}: cannot read ${path}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new TypeError(
      `${what}: ${path} is readable by group/others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    );
  }
  const value = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  if (!value) throw new TypeError(`${what}: ${path} is empty`);
  return value;
}
