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
  /** What the headless browser presses on the consent page. */
  decision?: 'approve' | 'deny';
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
  close(): Promise<void>;
}

export const PINNED_MCP_REMOTE = path.resolve('node_modules/mcp-remote/dist/proxy.js');

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
    BROWSER_DECISION: opts.decision ?? 'approve',
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
  transport.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const diagnostics = async () => {
    const steps = await readFile(browserLog, 'utf8').catch(() => '(the browser was never opened)\n');
    return `--- mcp-remote stderr ---\n${stderr}\n--- headless browser ---\n${steps}`;
  };
  const client = new Client({ name: 'claude-desktop-like', version: '0.0.0' });
  const close = async () => {
    await client.close().catch(() => undefined);
    if (ownDir) await rm(configDir, { recursive: true, force: true });
  };
  try {
    await within(opts.connectTimeoutMs ?? 25_000, 'mcp-remote connect + browser sign-in', client.connect(transport));
  } catch (e) {
    const why = await diagnostics();
    await close();
    throw new Error(`${(e as Error).message}\n${why}`, { cause: e });
  }
  return { client, configDir, diagnostics, close };
}
