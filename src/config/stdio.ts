/**
 * Configuration of single-user stdio mode (`npm run stdio`, `node dist/stdio.js`), parsed once with
 * zod like the server's: the user's own Vault credentials, no database, no identity provider.
 *
 * @module
 */
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { loadConfig, type Config, type Env } from './index.js';

const StdioEnvSchema = z.object({
  VAULT_URL: z.url({ protocol: /^https?$/ }),
  VAULT_USERNAME: z.string().min(1),
  VAULT_PASSWORD: z.string().min(1).optional(),
  VAULT_PASSWORD_FILE: z.string().min(1).optional(),
  VAULT_API_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, 'like v25.2')
    .default('v25.2'),
  /** Scopes the local user holds; add vault:write to enable the write tool. */
  VAULT_STDIO_SCOPES: z.string().default('vault:read,vault:vql'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
});

export interface StdioConfig {
  vaultUrl: string;
  username: string;
  /** Exactly one of password / passwordFile is set. */
  password: string | undefined;
  passwordFile: string | undefined;
  apiVersion: string;
  scopes: string[];
  logLevel: string;
  /** Vault client/session settings shared with the server (VAULT_TIMEOUT_MS, …). */
  vault: Config['vault'];
}

/**
 * @example
 * const cfg = loadStdioConfig(process.env);
 */
export function loadStdioConfig(env: Env): Readonly<StdioConfig> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = StdioEnvSchema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  if (parsed.success && !parsed.data.VAULT_PASSWORD === !parsed.data.VAULT_PASSWORD_FILE) {
    problems.push('VAULT_PASSWORD / VAULT_PASSWORD_FILE: set exactly one of them');
  }
  let shared: Config['vault'] | undefined;
  try {
    // Only the VAULT_* keys matter here; the server's other keys keep their defaults.
    shared = loadConfig(Object.fromEntries(Object.entries(cleaned).filter(([k]) => k.startsWith('VAULT_')))).vault;
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.problems);
    else throw e;
  }
  if (problems.length || !parsed.success || !shared) throw new ConfigError(problems);
  const e = parsed.data;
  return Object.freeze({
    vaultUrl: e.VAULT_URL.replace(/\/+$/, ''),
    username: e.VAULT_USERNAME,
    password: e.VAULT_PASSWORD,
    passwordFile: e.VAULT_PASSWORD_FILE,
    apiVersion: e.VAULT_API_VERSION,
    scopes: e.VAULT_STDIO_SCOPES.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel: e.LOG_LEVEL,
    vault: shared,
  });
}
