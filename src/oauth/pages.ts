/**
 * The few HTML pages of the authorization server: provider choice, consent, errors. Every value is
 * HTML-escaped; client-supplied text (client_name) is labelled as unverified. No script at all: the
 * pages are served under a CSP with no script source and `frame-ancestors 'none'` (no clickjacking).
 *
 * @module
 */

/** Escape text for HTML element content and double-quoted attributes. */
export function esc(v: string): string {
  return v.replace(
    /[&<>"'`]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c]!,
  );
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}
.warn{color:#8a4b00}.muted{color:#666;font-size:.9rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}
code{background:#f3f3f3;padding:0 .2rem}ul{padding-left:1.2rem}`;

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${esc(title)} · vault-mcp</title><style>${STYLE}</style></head>
<body>${body}</body></html>`;
}

/**
 * `back`: where "Return to the application" goes (the client's redirect URI carrying the OAuth error),
 * for failures after the client is known: the client is waiting for an answer, and without one a
 * client such as mcp-remote waits for ever.
 *
 * @example
 * errorPage('Sign-in failed', 'No tenant is configured for the email domain "x.com"', 'ERR_TENANT_UNKNOWN_DOMAIN')
 */
export function errorPage(title: string, message: string, code?: string, back?: string): string {
  return layout(
    title,
    `<h1>${esc(title)}</h1><p>${esc(message)}</p>${code ? `<p class="muted">Error code: <code>${esc(code)}</code></p>` : ''}
<p class="muted">Nothing was shared with the application.</p>${
      back
        ? `\n<p><a class="back" href="${esc(back)}">Return to the application</a> <span class="muted">(it is told that the sign-in did not complete)</span></p>`
        : ''
    }`,
  );
}

export function chooserPage(p: {
  loginId: string;
  clientName: string;
  providers: { id: string; displayName: string }[];
  message?: string;
  email?: string;
}): string {
  const links = p.providers
    .map(
      (x) =>
        `<li><a href="/oauth/signin?login=${encodeURIComponent(p.loginId)}&amp;provider=${encodeURIComponent(x.id)}">${esc(x.displayName)}</a></li>`,
    )
    .join('');
  return layout(
    'Sign in',
    `<h1>Sign in to vault-mcp</h1>
<p><strong>${esc(p.clientName)}</strong> <span class="muted">(name given by the application, not verified)</span> wants to reach Veeva Vault as you.</p>
${p.message ? `<p class="warn">${esc(p.message)}</p>` : ''}
<form method="get" action="/oauth/signin" class="box"><input type="hidden" name="login" value="${esc(p.loginId)}">
<label>Work email <input type="email" name="email" required autocomplete="email" value="${esc(p.email ?? '')}"></label>
<button type="submit">Continue</button></form>
${links ? `<p>Or sign in with:</p><ul>${links}</ul>` : ''}`,
  );
}

const SCOPE_TEXT: Record<string, string> = {
  'vault:read': 'Read documents, objects and workflow tasks in your Vault',
  'vault:vql': 'Run read-only VQL queries in your Vault',
  'vault:write': 'Change documents in your Vault (as you)',
};

export function consentPage(p: {
  loginId: string;
  csrf: string;
  user: { email: string; name?: string };
  tenant: string;
  client: { id: string; name?: string; metadataDocument: boolean };
  redirectUri: string;
  scopes: string[];
}): string {
  const redirect = new URL(p.redirectUri);
  const where = redirect.protocol === 'https:' || redirect.protocol === 'http:' ? redirect.host : redirect.protocol;
  const name = p.client.name?.trim() || 'An unnamed application';
  const scopes = p.scopes.map((s) => `<li><code>${esc(s)}</code> — ${esc(SCOPE_TEXT[s] ?? s)}</li>`).join('');
  return layout(
    'Allow access?',
    `<h1>Allow access to your Vault?</h1>
<div class="box"><p>Signed in as <strong>${esc(p.user.email)}</strong>${p.user.name ? ` (${esc(p.user.name)})` : ''}, tenant <code>${esc(p.tenant)}</code>.</p>
<p><strong>${esc(name)}</strong> <span class="muted">(name given by the application, not verified)</span><br>
<span class="muted">Client: <code>${esc(p.client.id)}</code>${p.client.metadataDocument ? ' (metadata document)' : ''}</span><br>
After you decide, you go back to <strong>${esc(where)}</strong>.</p>
<p>It asks to:</p><ul>${scopes}</ul></div>
<p class="warn">Only allow this if you started this connection yourself just now, in an application you trust.</p>
<form method="post" action="/oauth/consent">
<input type="hidden" name="login" value="${esc(p.loginId)}"><input type="hidden" name="csrf" value="${esc(p.csrf)}">
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>`,
  );
}
