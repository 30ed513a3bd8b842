/**
 * Run the real `mcp-remote` (stdio ↔ streamable HTTP proxy, the client most desktop users have) under
 * the SDK's stdio client, exactly as Claude Desktop runs it, with its browser replaced by the headless
 * one (`$BROWSER`, see headless-browser.ts). Everything is bounded: a hang fails the test, it never
 * blocks the run.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { browserCommand } from './headless-browser.js';
import { freePort } from './server.js';

export interface McpRemoteOptions {
  /** The demo user the headless browser picks on the dev issuer's login page (default: the first). */
  user?: string;
  /** What the headless browser presses on the consent page; a list: one per time it is opened. */
  decision?: 'approve' | 'deny' | ('approve' | 'deny')[];
  /** The first sign-in asks for this scope instead of what mcp-remote asks for (later ones unchanged). */
  firstScope?: string;
  /** Extra mcp-remote arguments (e.g. `--header`, `--resource`). */
  args?: string[];
  /** Reuse a config dir (mcp-remote's stored client registration and tokens); default a fresh one. */
  configDir?: string;
  /** Which mcp-remote: default the pinned devDependency. */
  proxyPath?: string;
  /** Bound for connect (which includes the whole browser sign-in). */
  connectTimeoutMs?: number;
}

export interface McpRemote {
  client: Client;
  configDir: string;
  /** mcp-remote's stderr so far and the headless browser's steps: print these when a test fails. */
  diagnostics(): Promise<string>;
  /** The headless browser's log: one `open #n …` line per time mcp-remote opened the browser. */
  browserLog(): Promise<string>;
  /** Resolves once mcp-remote's stderr contains `text` (never rejects: bound it with `within`). */
  stderrIncludes(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Is the process still there (signal 0 only checks)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The devDependency `mcp-remote` (what `npx -y mcp-remote` runs today). */
export const PINNED_MCP_REMOTE = path.resolve('node_modules/mcp-remote/dist/proxy.js');
/** mcp-remote 0.1.38 (devDependency alias `mcp-remote-0.1.38`): still in many configs; it cannot step up. */
export const MCP_REMOTE_0_1_38 = path.resolve('node_modules/mcp-remote-0.1.38/dist/proxy.js');

/** Reject with `what` after `ms` (and let the caller clean up) instead of waiting forever. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Start mcp-remote against `mcpUrl` with no Authorization header: it discovers the authorization server,
 * registers, opens the (headless) browser, receives the code on its loopback callback and connects.
 */
export async function connectMcpRemote(mcpUrl: string, opts: McpRemoteOptions = {}): Promise<McpRemote> {
  const configDir = opts.configDir ?? (await mkdtemp(path.join(tmpdir(), 'vmcp-mcp-remote-')));
  const ownDir = !opts.configDir;
  const browserLog = path.join(configDir, 'browser.log');
  const callbackPort = await freePort();
  // No desktop: xdg-open falls back to $BROWSER (a DISPLAY would make it try real browsers first).
  const {
    DISPLAY: _d,
    WAYLAND_DISPLAY: _w,
    XDG_CURRENT_DESKTOP: _x,
    KDE_FULL_SESSION: _k,
    GNOME_DESKTOP_SESSION_ID: _g,
    ...base
  } = process.env;
  const env: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, string>),
    MCP_REMOTE_CONFIG_DIR: configDir,
    BROWSER: browserCommand(),
    BROWSER_LOG: browserLog,
    BROWSER_USER: opts.user ?? '',
    BROWSER_DECISION: [opts.decision ?? 'approve'].flat().join(','),
    BROWSER_FIRST_SCOPE: opts.firstScope ?? '',
  };
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      opts.proxyPath ?? PINNED_MCP_REMOTE,
      mcpUrl,
      String(callbackPort),
      '--transport',
      'http-only',
      ...(opts.args ?? []),
    ],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  transport.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    for (const w of waiters.filter((x) => stderr.includes(x.text))) w.resolve();
  });
  /** Resolves when mcp-remote's stderr contains `text` (bound it with `within`). */
  const stderrIncludes = (text: string) =>
    stderr.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve }));
  const diagnostics = async () => {
    const steps = await readFile(browserLog, 'utf8').catch(() => '(the browser was never opened)\n');
    return `--- mcp-remote stderr ---\n${stderr}\n--- headless browser ---\n${steps}`;
  };
  const client = new Client({ name: 'claude-desktop-like', version: '0.0.0' });
  const close = async () => {
    const pid = transport.pid;
    await client.close().catch(() => undefined);
    // mcp-remote removes its lock file as it exits: remove the directory only once it is gone.
    for (let i = 0; pid && i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (ownDir) await rm(configDir, { recursive: true, force: true });
  };
  try {
    await within(opts.connectTimeoutMs ?? 25_000, 'mcp-remote connect + browser sign-in', client.connect(transport));
  } catch (e) {
    const why = await diagnostics();
    await close();
    throw new Error(`${(e as Error).message}\n${why}`, { cause: e });
  }
  return {
    client,
    configDir,
    diagnostics,
    browserLog: () => readFile(browserLog, 'utf8').catch(() => ''),
    stderrIncludes,
    close,
  };
}

export type Settled<T> = { state: 'answered'; value: T } | { state: 'failed'; error: Error } | { state: 'pending' };

/**
 * What a call does within `ms`: answered, failed, or still pending (a hang, reported as data so a test
 * can assert on it; the call itself is left to die with the client).
 */
export async function settleWithin<T>(ms: number, p: Promise<T>): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Settled<T>>((r) => {
    timer = setTimeout(() => r({ state: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value): Settled<T> => ({ state: 'answered', value }),
        (error: unknown): Settled<T> => ({ state: 'failed', error: error as Error }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
