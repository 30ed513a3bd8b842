/**
 * A headless "user who clicks once", for real clients that open a browser (mcp-remote uses the `open`
 * package, whose bundled xdg-open runs `$BROWSER <url>` when no desktop is found). It follows
 * redirects with a cookie jar; on vault-mcp's provider chooser it takes the first provider, on the dev
 * issuer's login page it follows the link of the wanted user (env BROWSER_USER, an email; default the
 * first), on vault-mcp's consent page it submits `decision=approve` (or BROWSER_DECISION), on an error
 * page it reads, then follows "Return to the application", and it finally GETs whatever the last
 * redirect names — the client's loopback callback.
 *
 * As `$BROWSER`: `browserCommand()` (node + tsx + this file). Each step is appended to BROWSER_LOG
 * (method, origin + path, status; no query strings, so no codes or states) for failing tests to show;
 * BROWSER_FIRST_SCOPE replaces the scope of the first sign-in only (a client that starts read-only),
 * BROWSER_DECISION may be a comma list, one decision per time the browser is opened.
 *
 * @module
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WalkOptions {
  /** The demo user to pick on the dev issuer's login page (its `data-email`); default the first. */
  user?: string;
  /** What to press on the consent page. */
  decision?: 'approve' | 'deny';
  /** Append one line per step here. */
  log?: (line: string) => void;
  /** Replace the `scope` of the first URL (a client that asks for less, e.g. read-only, at first). */
  scope?: string;
  /** Give up after this many requests (a redirect loop is a failure, not a hang). */
  maxSteps?: number;
  /** Stop before fetching a URL this accepts (e.g. a test client's redirect URI); it ends `visited`. */
  stopAt?: (url: URL) => boolean;
}

export interface WalkResult {
  /** Every URL fetched, in order. */
  visited: URL[];
  /** The last answer (the client's callback page, or whatever page the walk stopped on). */
  status: number;
  body: string;
  /** Which page kinds the walk met, in order (chooser, login, consent, `error <status>`). */
  pages: string[];
  /** The error pages passed through (their "Return to the application" link was followed). */
  errors: string[];
}

const unescape = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');

/**
 * A client opens the browser before its loopback callback listens (mcp-remote starts that server
 * lazily); a person is never that fast, so a refused connection is retried for a while, as a reload.
 */
async function fetchPatiently(url: URL, init: RequestInit): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      const code = ((e as Error).cause as { code?: string } | undefined)?.code;
      if (code !== 'ECONNREFUSED' || attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Walk from `start` as one user click-through. Never throws for an HTTP answer; the caller asserts. */
export async function walk(start: string, opts: WalkOptions = {}): Promise<WalkResult> {
  const jar = new Map<string, Map<string, string>>();
  const visited: URL[] = [];
  const pages: string[] = [];
  const errors: string[] = [];
  const first = new URL(start);
  if (opts.scope) first.searchParams.set('scope', opts.scope);
  let next: { url: URL; method: 'GET' | 'POST'; form?: URLSearchParams } = { url: first, method: 'GET' };
  for (let step = 0; step < (opts.maxSteps ?? 20); step++) {
    const { url, method, form } = next;
    visited.push(url);
    if (opts.stopAt?.(url)) return { visited, status: 0, body: '', pages, errors };
    const cookies = jar.get(url.host);
    const res = await fetchPatiently(url, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...(cookies?.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin } : {}),
      },
      body: form?.toString(),
      signal: AbortSignal.timeout(15_000),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) {
        const bucket = jar.get(url.host) ?? new Map<string, string>();
        bucket.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
        jar.set(url.host, bucket);
      }
    }
    opts.log?.(`${method} ${url.origin}${url.pathname} -> ${res.status}`);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      next = { url: new URL(location, url), method: 'GET' };
      continue;
    }
    const body = await res.text();
    // vault-mcp's consent page: one form, hidden fields, approve/deny buttons.
    const consent = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(body);
    if (consent && /name="decision"/.test(consent[2]!)) {
      pages.push('consent');
      const fields = new URLSearchParams();
      for (const m of consent[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
        fields.set(unescape(m[1]!), unescape(m[2]!));
      fields.set('decision', opts.decision ?? 'approve');
      next = { url: new URL(unescape(consent[1]!), url), method: 'POST', form: fields };
      continue;
    }
    // The dev issuer's login page: one link per demo user.
    const users = [...body.matchAll(/<a class="user" data-email="([^"]*)" href="([^"]+)"/g)];
    if (users.length) {
      pages.push('login');
      const link = opts.user ? users.find((u) => unescape(u[1]!) === opts.user) : users[0];
      if (!link) return { visited, status: res.status, body, pages, errors };
      next = { url: new URL(unescape(link[2]!), url), method: 'GET' };
      continue;
    }
    // vault-mcp's provider chooser (several upstreams): the first provider.
    const provider = /<a href="(\/oauth\/signin\?[^"]+provider=[^"]+)"/.exec(body);
    if (provider) {
      pages.push('chooser');
      next = { url: new URL(unescape(provider[1]!), url), method: 'GET' };
      continue;
    }
    // vault-mcp's error page after the client is known: "Return to the application" (the user reads
    // why, then goes back; the client receives the OAuth error instead of waiting).
    const back = /<a class="back" href="([^"]+)"/.exec(body);
    if (back) {
      pages.push(`error ${res.status}`);
      errors.push(body);
      next = { url: new URL(unescape(back[1]!), url), method: 'GET' };
      continue;
    }
    return { visited, status: res.status, body, pages, errors };
  }
  throw new Error(`headless browser: more than ${opts.maxSteps ?? 20} steps from ${start}`);
}

const self = fileURLToPath(import.meta.url);

/** The `BROWSER` value that runs this file (xdg-open word-splits it; no path may hold a space or `:`). */
export function browserCommand(): string {
  const words = [process.execPath, '--import', 'tsx', self];
  if (words.some((w) => /[\s:]/.test(w))) throw new Error(`BROWSER cannot hold a path with a space or ':': ${self}`);
  return words.join(' ');
}

// Run as `$BROWSER <url>`: walk, log, exit 0 (xdg-open treats non-zero as "try the next browser").
if (process.argv[1] && path.resolve(process.argv[1]) === self) {
  const logFile = process.env.BROWSER_LOG;
  const log = (line: string) => {
    if (logFile) appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
  };
  // This is the n-th time the client opened the browser (one `open` line per run so far).
  const previous = logFile && existsSync(logFile) ? (readFileSync(logFile, 'utf8').match(/ open /g)?.length ?? 0) : 0;
  // BROWSER_DECISION: approve|deny, or a comma list taken in turn (the last one repeats).
  const decisions = (process.env.BROWSER_DECISION || 'approve').split(',');
  const decision = decisions[Math.min(previous, decisions.length - 1)] === 'deny' ? 'deny' : 'approve';
  // BROWSER_FIRST_SCOPE: the first sign-in asks for this scope instead; later ones as the client asked.
  const scope = previous === 0 ? process.env.BROWSER_FIRST_SCOPE || undefined : undefined;
  const asked = new URL(process.argv[2] ?? '').searchParams.get('scope') ?? '';
  log(`open #${previous + 1} scope="${asked}"${scope ? ` (replaced by "${scope}")` : ''} decision=${decision}`);
  walk(process.argv[2] ?? '', { user: process.env.BROWSER_USER || undefined, decision, log, scope })
    .then((r) => log(`done: HTTP ${r.status} after ${r.pages.join(' → ') || 'no page'}`))
    .catch((e: unknown) => {
      const cause = (e as Error).cause as Error | undefined;
      log(`failed: ${(e as Error).message}${cause ? ` (${cause.message})` : ''}`);
    });
}
