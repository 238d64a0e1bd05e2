import { pageScript } from "./page-script.ts";
import { PAGE_STYLE } from "./page-style.ts";

export interface PlaygroundOptions {
  /**
   * The page's title and heading. Without one the page shows the app's own (`info.title` of
   * `/openapi.json`) once it has read it: the shell a server with API keys sends to a browser
   * that has not given one yet names nothing of the app.
   * @default "troupe playground"
   */
  readonly title?: string;
  /**
   * The app's id on the queue's routes (`owner/alias`): the page offers to submit to the queue
   * under it. Without one the page asks `GET /health` for it (the shell a server with API keys
   * sends names no app).
   * @default none
   */
  readonly appId?: string;
}

const DEFAULT_TITLE = "troupe playground";

if (/<\/style/i.test(PAGE_STYLE)) {
  throw new Error("The playground's inline style would close its own tag");
}

/**
 * The playground: one self-contained HTML page (inline style and script, nothing fetched but the
 * app's own `/openapi.json` and endpoints) that lists the app's endpoints, builds a form from the
 * selected one's input schema, runs it, and shows progress, previews, events, the result and
 * errors as they stream in, with `troupe/client`. Or it submits to the app's queue and lists the
 * page's queued requests with their live status and position, result and a cancel button. The
 * server answers `GET /` with it. When the
 * server wants an API key, the page asks for one and keeps it for the tab (sessionStorage). Its script
 * is page/main.ts, bundled (see page-script.ts); the first call may bundle it, later ones reuse it.
 *
 * @example
 * fastify.get("/", (_request, reply) =>
 *   reply.type("text/html; charset=utf-8").send(playgroundHtml({ title: "My app" })));
 */
export function playgroundHtml(options: PlaygroundOptions = {}): string {
  const title = escapeHtml(options.title ?? DEFAULT_TITLE);
  const subtitle =
    options.title === undefined ? "" : ` <span class="muted">${DEFAULT_TITLE}</span>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header data-titled="${options.title === undefined ? "false" : "true"}"${options.appId === undefined ? "" : ` data-app-id="${escapeHtml(options.appId)}"`}><h1 id="title">${title}</h1>${subtitle}</header>
<form id="key-form" class="panel" data-testid="key-form" hidden>
<label for="api-key">API key</label>
<p id="key-message" class="hint" data-testid="key-message"></p>
<div class="actions">
<input id="api-key" data-testid="api-key" type="password" autocomplete="off" spellcheck="false">
<button type="submit" data-testid="key-submit">Use key</button>
</div>
</form>
<main>
<section class="panel" aria-labelledby="input-heading">
<h2 id="input-heading">Input</h2>
<label for="endpoint">Endpoint</label>
<select id="endpoint" data-testid="endpoint"></select>
<p id="endpoint-description" class="muted"></p>
<form id="form" novalidate>
<div id="fields"></div>
<div class="actions">
<button type="submit" id="run" data-testid="run" disabled>Run</button>
<button type="button" id="cancel" data-testid="cancel" disabled>Cancel</button>
<label id="via-queue-label" class="inline" hidden><input type="checkbox" id="via-queue" data-testid="via-queue"> Submit to the queue</label>
</div>
</form>
</section>
<section class="panel" aria-labelledby="output-heading">
<h2 id="output-heading">Output</h2>
<div class="status-row">
<span id="status" data-testid="status" data-status="loading" aria-live="polite">loading</span>
<span id="queue" data-testid="queue" hidden></span>
<code id="request-id" data-testid="request-id"></code>
</div>
<div id="progress" data-testid="progress" role="progressbar" aria-label="Progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><div id="progress-fill"></div><span id="progress-label">0%</span></div>
<div id="error" data-testid="error" role="alert" hidden></div>
<div id="previews" data-testid="previews"></div>
<h3>Result</h3>
<div id="result" data-testid="result"></div>
<h3>Events</h3>
<ol id="log" data-testid="log"></ol>
</section>
<section id="queue-panel" class="panel" aria-labelledby="queue-heading" data-testid="queue-panel" hidden>
<h2 id="queue-heading">Queued requests</h2>
<ol id="queued" data-testid="queued"></ol>
</section>
</main>
<script>${pageScript()}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}
