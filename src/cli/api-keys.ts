/**
 * `npm run api-keys -- <create|list|revoke> …`: the API-key admin CLI. Reads the environment only
 * through loadConfig and uses the server's database (DATABASE_URL, or the embedded Postgres under
 * DATA_DIR). The key is printed once on creation and never stored.
 *
 * Exit codes: 0 ok, 1 failed, 64 usage, 78 configuration.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE = `usage:
  npm run api-keys -- create --tenant <id> --name <name> --scopes vault:read[,vault:write…]
                             [--act-as user@example.com] [--expires-days N]
  npm run api-keys -- list --tenant <id> [--json]
  npm run api-keys -- revoke <key-id>`;

await runCli('api-keys', USAGE, async ({ pool, out }) => {
  const argv = process.argv.slice(2);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        tenant: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        'act-as': { type: 'string' },
        'expires-days': { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const {
    values: v,
    positionals: [command, arg, ...extra],
  } = parsed;
  if (extra.length) throw new UsageError(`unexpected argument(s): ${extra.join(' ')}`);
  if (command === 'create' && !arg) {
    if (!v.tenant || !v.name || !v.scopes) throw new UsageError('create needs --tenant, --name and --scopes');
    const days = v['expires-days'];
    if (days !== undefined && !/^\d+$/.test(days))
      throw new UsageError('--expires-days must be a whole number of days');
    const { key, info } = await createApiKey(pool, {
      tenantId: v.tenant,
      name: v.name,
      scopes: v.scopes
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      actAs: v['act-as'],
      expiresDays: days === undefined ? undefined : Number(days),
    });
    out(
      `created API key ${info.id} for tenant ${info.tenantId} (scopes: ${info.scopes.join(' ')}${info.actAs ? `, acts as ${info.actAs}` : ''}${info.expiresAt ? `, expires ${info.expiresAt.toISOString()}` : ''})`,
    );
    out('');
    out(key);
    out('');
    out('This key is shown once; store it in your secret manager. Send it as: Authorization: Bearer <key>');
    return 0;
  }
  if (command === 'list' && !arg) {
    if (!v.tenant) throw new UsageError('list needs --tenant');
    const keys = await listApiKeys(pool, v.tenant);
    if (v.json) out(JSON.stringify(keys, null, 2));
    else if (!keys.length) out(`no API keys for tenant ${v.tenant}`);
    else {
      for (const k of keys) {
        const state = k.revokedAt
          ? 'revoked'
          : k.expiresAt && k.expiresAt.getTime() <= Date.now()
            ? 'expired'
            : 'active';
        out(
          `${k.id}  ${state.padEnd(7)}  ${k.name}  scopes=${k.scopes.join(',')}${k.actAs ? `  act-as=${k.actAs}` : ''}  last-used=${k.lastUsedAt?.toISOString() ?? 'never'}`,
        );
      }
    }
    return 0;
  }
  if (command === 'revoke' && arg) {
    const k = await revokeApiKey(pool, arg);
    out(`revoked API key ${k.id} (${k.name}, tenant ${k.tenantId}) at ${k.revokedAt!.toISOString()}`);
    return 0;
  }
  throw new UsageError(command ? `unknown command or missing argument: ${command}` : 'missing command');
});
