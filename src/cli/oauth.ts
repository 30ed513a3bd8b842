/**
 * `npm run oauth -- <grants list|grants revoke|keys rotate|redirect-uris> …`: the authorization server's admin CLI.
 * Same database and SECRET_KEY as the server. A revoked grant ends at once for refresh and, on every
 * replica, for its access tokens (Postgres NOTIFY at commit; see own-issuer-verifier.ts).
 *
 * Exit codes: 0 ok, 1 failed, 64 usage, 78 configuration.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createAuditWriter } from '../audit/index.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../log/index.js';
import { createOAuthAdmin } from '../oauth/admin.js';
import { createSigningKeys } from '../oauth/keys.js';
import { redirectUrisToRegister } from '../oauth/upstream/callback.js';
import { listTenants } from '../tenancy/list-tenants.js';
import { createSessionCipher } from '../vault/crypto.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE = `usage:
  npm run oauth -- grants list [--user <email>] [--client <client_id>] [--tenant <id>] [--all] [--json]
  npm run oauth -- grants revoke (--user <email> | --client <client_id> | --tenant <id> | --grant <id>)…
  npm run oauth -- keys rotate     (new signing key; the old ones stay valid for the access-token lifetime)
  npm run oauth -- redirect-uris   (the sign-in redirect URI to register at each identity provider)`;

await runCli('oauth', USAGE, async ({ pool, config, out }) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      strict: true,
      options: {
        user: { type: 'string' },
        client: { type: 'string' },
        tenant: { type: 'string' },
        grant: { type: 'string' },
        all: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [what, command, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument(s): ${extra.join(' ')}`);
  await migrate(pool);
  // The same key the server uses (SECRET_KEY, or the embedded setup's generated one).
  const secretKey =
    config.secretKey ??
    (await readFile(path.join(config.db.dataDir, 'secret.key'), 'utf8').then(
      (k) => k.trim(),
      () => undefined,
    ));
  const cipher = createSessionCipher(secretKey ?? randomBytes(32).toString('base64'));
  const filter = { email: v.user, clientId: v.client, tenantId: v.tenant, grantId: v.grant };

  if (what === 'grants' && command === 'list') {
    const grants = await createOAuthAdmin({ pool, cipher }).list({ ...filter, all: v.all });
    if (v.json) out(JSON.stringify(grants, null, 2));
    else if (!grants.length) out('no grants');
    else
      for (const g of grants)
        out(
          `${g.id}  ${g.revokedAt ? `revoked(${g.revokedReason})` : 'active'}  ${g.email}  tenant=${g.tenantId}  client=${g.clientId}${g.clientName ? ` (${g.clientName})` : ''}  scopes=${g.scopes.join(',')}  created=${g.createdAt.toISOString()}  last-used=${g.lastUsedAt?.toISOString() ?? 'never'}`,
        );
    return 0;
  }
  if (what === 'grants' && command === 'revoke') {
    if (!v.user && !v.client && !v.tenant && !v.grant)
      throw new UsageError('revoke needs --user, --client, --tenant or --grant');
    const audit = createAuditWriter({ pool, log: createLogger({ level: 'silent' }) });
    try {
      const revoked = await createOAuthAdmin({ pool, cipher, audit }).revoke(
        filter,
        `cli:${process.env.USER ?? 'admin'}`,
      );
      out(`revoked ${revoked.length} grant(s)`);
      for (const g of revoked) out(`  ${g.id}  ${g.email}  tenant=${g.tenantId}  client=${g.clientId}`);
    } finally {
      await audit.close();
    }
    return 0;
  }
  if (what === 'keys' && command === 'rotate') {
    if (!secretKey)
      throw new UsageError('keys rotate needs SECRET_KEY (the key the server encrypts signing keys with)');
    const keys = createSigningKeys({
      pool,
      cipher,
      alg: config.oauth?.signingAlg ?? 'ES256',
      overlapSeconds: (config.oauth?.accessTokenTtlSeconds ?? 3600) + 600,
    });
    const kid = await keys.rotate();
    out(`new signing key ${kid}; previous keys stay published and valid for the access-token lifetime`);
    return 0;
  }
  if (what === 'redirect-uris' && !command) {
    // One per identity provider (mix-up defence): the shared PUBLIC_URL/oauth/callback is refused.
    const uris = redirectUrisToRegister(config.publicUrl, config.upstream, await listTenants(pool));
    if (v.json) out(JSON.stringify(uris, null, 2));
    else if (!uris.length) out('no identity provider is configured for sign-in');
    else for (const u of uris) out(`${u.provider.padEnd(20)} ${u.redirectUri}  (at ${u.at})`);
    return 0;
  }
  throw new UsageError(what ? `unknown command: ${[what, command].filter(Boolean).join(' ')}` : 'missing command');
});
