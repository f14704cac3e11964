/** The HTML the console serves: the page's shell (the script draws everything) and the login form. */
import type { PageBundle } from './bundle';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** No script or style from anywhere but the console; no framing. */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function pageHtml(b: PageBundle, o: { loggedIn: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Deltaflow console</title>
<link rel="stylesheet" href="/assets/console.css?v=${b.version}">
</head>
<body data-session="${o.loggedIn ? 'cookie' : 'none'}">
<div id="app"><p class="loading">Loading the Deltaflow console…</p></div>
<noscript>The console draws the page with JavaScript; the same data is at /api/state and /api/health (JSON).</noscript>
<script src="/assets/console.js?v=${b.version}"></script>
</body>
</html>
`;
}

/** Plain (its stylesheet is behind the token too). */
export function loginHtml(o: { error?: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Deltaflow console — sign in</title>
</head>
<body>
<main class="login">
<h1>Deltaflow console</h1>
<p>This system is protected by a token (its <code>HTTP_TOKEN</code>). Enter it once: the console keeps a session cookie derived from it (not the token itself) in this browser.</p>
${o.error ? `<p class="error" role="alert">${escape(o.error)}</p>` : ''}
<form method="post" action="/login">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
