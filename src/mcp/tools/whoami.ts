/**
 * `whoami`: who the server thinks the caller is, and (when a session manager is given) which Vault
 * user their calls act as. A Vault failure does not fail whoami: it is reported in `vaultUser.error`.
 *
 * @module
 */
import type { SessionManager } from '../../vault/session-manager.js';
import { defineTool, type ToolDef } from '../tool.js';

/**
 * @example
 * const tool = createWhoami({ sessions });
 */
export function createWhoami(deps: { sessions?: Pick<SessionManager, 'withSession'> } = {}): ToolDef {
  return defineTool({
    name: 'whoami',
    title: 'Who am I',
    description:
      'Show the authenticated user, identity provider, tenant, granted scopes and Vault user for this connection.',
    scopes: [],
    input: {},
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(_args, ctx) {
      let vaultUser: Record<string, unknown> | null = null;
      let actedAs: string | undefined;
      if (ctx.tenant && deps.sessions) {
        try {
          ({ value: vaultUser, vaultUser: actedAs } = await deps.sessions.withSession(ctx, async (s) => {
            const id = /^\d+$/.test(s.vaultUserId) ? s.vaultUserId : '0';
            const { data } = await s.client.query(
              s.sessionId,
              `SELECT id, user_name__v, user_email__v FROM users WHERE id = ${id}`,
            );
            const u = data[0] ?? {};
            return {
              id: s.vaultUserId,
              username: u.user_name__v ?? null,
              email: u.user_email__v ?? null,
              mode: s.mode,
              vault: ctx.tenant!.vault.url,
            };
          }));
        } catch (e) {
          vaultUser = { error: (e as Error).message };
        }
      }
      const value = {
        user: ctx.user.email ?? ctx.user.subject,
        subject: ctx.user.subject,
        provider: ctx.user.provider,
        issuer: ctx.user.issuer,
        tenant: ctx.tenant?.id ?? null,
        scopes: ctx.user.scopes,
        actor: ctx.user.actor ?? null,
        vaultUser,
      };
      return { value, vaultUser: actedAs };
    },
  });
}

/** whoami without Vault (no session manager). */
export const whoami = createWhoami();
