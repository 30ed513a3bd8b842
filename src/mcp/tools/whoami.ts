/**
 * `whoami`: who the server thinks the caller is. Proves the verified identity reaches handlers.
 *
 * @module
 */
import { defineTool } from '../tool.js';

export const whoami = defineTool({
  name: 'whoami',
  title: 'Who am I',
  description: 'Show the authenticated user, identity provider, tenant, granted scopes and Vault user for this connection.',
  scopes: [],
  input: {},
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(_args, ctx) {
    return {
      user: ctx.user.email ?? ctx.user.subject,
      subject: ctx.user.subject,
      provider: ctx.user.provider,
      issuer: ctx.user.issuer,
      tenant: ctx.tenant?.id ?? null,
      scopes: ctx.user.scopes,
      actor: ctx.user.actor ?? null,
      vaultUser: null,
    };
  },
});
