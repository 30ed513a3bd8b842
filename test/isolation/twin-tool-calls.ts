/**
 * The tool calls the twin-tenant test replays as each tenant. EVERY tool the server offers must have at
 * least one entry here (the test fails otherwise): when you add a tool, add a call that reaches its
 * data, using `ctx.mark` (this tenant's canary) / `ctx.otherMark` (the twin's) where an id or search
 * term fits, so a cross-tenant read would surface the twin's canary.
 */
export interface TwinContext {
  /** This tenant's canary: present in its audit_log, user_mappings and vault_sessions. */
  mark: string;
  /** The twin's canary: must never appear in any response, error or log line of this tenant. */
  otherMark: string;
}

export interface TwinCall {
  name: string;
  arguments: (ctx: TwinContext) => Record<string, unknown>;
}

export const TWIN_TOOL_CALLS: TwinCall[] = [{ name: 'whoami', arguments: () => ({}) }];
