/**
 * The dev-only settings (`npm run dev`, `npm run vault-sim`, `npm test`), parsed once with zod like the
 * server's: the ports of the local issuer, the Vault simulator and the test Postgres. The server's own
 * keys (PORT, EMBEDDED_PG_PORT, …) stay in src/config.
 *
 * @module
 */
import { z } from 'zod';
import { type Env } from '../config/index.js';
import { ConfigError } from '../errors/index.js';

const port = (dflt: number) => z.coerce.number().int().min(0).max(65535).default(dflt);

const DevEnvSchema = z.object({
  /** The local OIDC issuer of `npm run dev` (0 = any free port). */
  DEV_ISSUER_PORT: port(9400),
  /** The Vault simulator of `npm run dev` and `npm run vault-sim`. */
  VAULT_SIM_PORT: port(8282),
  /** The embedded Postgres `npm test` starts when DATABASE_URL is unset. */
  TEST_PG_PORT: port(5434).pipe(z.number().min(1)),
  VAULT_SIM_SESSION_TIMEOUT_MS: z.coerce.number().int().min(1).optional(),
});

export type DevConfig = z.infer<typeof DevEnvSchema>;

/**
 * @example
 * const { DEV_ISSUER_PORT } = loadDevConfig(process.env);
 */
export function loadDevConfig(env: Env): Readonly<DevConfig> {
  const keys = Object.keys(DevEnvSchema.shape);
  const set = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => keys.includes(k) && v !== undefined && v !== ''),
  );
  const parsed = DevEnvSchema.safeParse(set);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  return Object.freeze(parsed.data);
}
