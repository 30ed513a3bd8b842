/**
 * Drives an upstream sign-in headlessly, as a browser would: build the provider's authorization URL,
 * fetch it (the fake's login page), follow the link of the chosen user (one click), and capture the
 * redirect to our callback URL without fetching it. Returns what the authorization server would
 * hold (state, nonce, PKCE verifier) and the callback URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CodeExchangeInput, UpstreamProvider } from '../../src/oauth/upstream/types.js';

export const REDIRECT_URI = 'https://mcp.example.test/oauth/callback';

export interface DrivenSignIn extends CodeExchangeInput {
  authorizationUrl: URL;
  /** The login page as served (HTML). */
  loginPage: string;
}

/** `pick`: the email (`data-email`) or GitHub login (`data-login`) to click, or 'deny' for Cancel. */
export async function driveSignIn(
  provider: UpstreamProvider,
  pick: string,
  opts: { loginHint?: string; redirectUri?: string } = {},
): Promise<DrivenSignIn> {
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  const redirectUri = opts.redirectUri ?? REDIRECT_URI;
  const authorizationUrl = await provider.authorizationUrl({
    state,
    nonce,
    codeChallenge,
    redirectUri,
    loginHint: opts.loginHint,
  });
  const { location, loginPage } = await clickUser(authorizationUrl, pick);
  if (!location?.startsWith(redirectUri)) throw new Error(`expected a redirect to ${redirectUri}, got ${location}`);
  return {
    authorizationUrl,
    loginPage,
    callbackUrl: new URL(location),
    expectedState: state,
    expectedNonce: nonce,
    codeVerifier,
    redirectUri,
  };
}

/**
 * At an upstream's authorization URL: read its login page and click `pick` (an email or GitHub login,
 * or 'deny'); returns where the upstream sends the browser back (our callback URL with code or error).
 */
export async function clickUser(authorizationUrl: URL, pick: string): Promise<{ location: string; loginPage: string }> {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  if (page.status === 302) {
    await page.body?.cancel();
    return { location: page.headers.get('location') ?? '', loginPage: '' };
  }
  const loginPage = await page.text();
  if (page.status !== 200) throw new Error(`login page answered HTTP ${page.status}: ${loginPage}`);
  const links = [...loginPage.matchAll(/<a class="(user|deny)"(?: data-(?:email|login)="([^"]*)")? href="([^"]+)"/g)];
  const link =
    pick === 'deny' ? links.find((l) => l[1] === 'deny') : links.find((l) => l[1] === 'user' && l[2] === pick);
  if (!link) throw new Error(`no link for ${pick} on the login page: ${loginPage}`);
  const chosen = await fetch(new URL(link[3]!.replace(/&amp;/g, '&'), authorizationUrl), { redirect: 'manual' });
  await chosen.body?.cancel();
  if (chosen.status !== 302) throw new Error(`picking ${pick} answered HTTP ${chosen.status}`);
  return { location: chosen.headers.get('location') ?? '', loginPage };
}

/** Assert-friendly: the AppError code and message of a rejected promise. */
export async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; message: string; status?: number };
    return { code: err.code ?? 'NONE', message: err.message, status: err.status };
  }
  throw new Error('expected a failure, got success');
}
