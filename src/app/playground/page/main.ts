/**
 * The playground page's script (bundled into one file by bundle-page.ts): lists the app's
 * endpoints from `/openapi.json`, builds the selected one's form, runs it with `troupe/client`,
 * and shows what comes back; or submits it to the app's queue and lists it (queue-list.ts).
 */
import { isAbortError, RequestError } from "../../../client/index.ts";
import { askForApiKey, keepApiKey, keyHeaders, storedApiKey } from "./api-key.ts";
import { el } from "./el.ts";
import { isRecord } from "./is-record.ts";
import { listEndpoints, type PlaygroundEndpoint } from "./list-endpoints.ts";
import { OutputPanel } from "./output-panel.ts";
import { type PageElements, pageElements } from "./page-elements.ts";
import { QueueList } from "./queue-list.ts";
import { runOnce, runStreaming } from "./run-endpoint.ts";
import { buildForm, type SchemaForm } from "./schema-form.ts";

const ui: PageElements = pageElements(document);
const panel = new OutputPanel(ui, location.href);
let endpoints: PlaygroundEndpoint[] = [];
let form: SchemaForm | undefined;
let active: AbortController | undefined;
/** The server's API key, once the page knows the server wants one and the user gave it. */
let apiKey: string | undefined;
/** The app's id on the queue's routes, once the page knows it. */
let appId: string | undefined;
const queue = new QueueList(ui, () => ({ appId: appId ?? "", apiKey }));

function selectEndpoint(doc: unknown, index: number): void {
  const endpoint = endpoints[index];
  if (endpoint === undefined) return;
  ui.description.textContent = endpoint.summary;
  form = buildForm(ui.fields, endpoint.schema, doc);
}

/** Shows why a run or the page's start failed; an abort is the user's Cancel, not a failure. */
function showFailure(error: unknown, fallbackCode: string): void {
  if (error instanceof RequestError) {
    if (error.requestId !== undefined) panel.setRequestId(error.requestId);
    panel.showError({
      status: error.status,
      code: error.code,
      message: error.message,
      rank: error.rank,
      requestId: error.requestId,
      issues: error.issues,
    });
    panel.log("error", `${error.status ?? ""} ${error.code}: ${error.message}`.trim());
  } else {
    panel.showError({ code: fallbackCode, message: (error as Error)?.message ?? String(error) });
  }
  panel.setStatus("failed");
}

async function runSelected(): Promise<void> {
  if (active !== undefined) return;
  const endpoint = endpoints[Number(ui.endpoint.value)];
  if (endpoint === undefined || form === undefined) return;
  ui.error.hidden = true;
  let body: unknown;
  try {
    body = form.read();
  } catch (error) {
    panel.showError({ code: "INVALID_INPUT", message: (error as Error).message });
    return;
  }
  if (ui.viaQueue.checked && appId !== undefined) {
    await submitToQueue(endpoint, body);
    return;
  }
  const controller = new AbortController();
  active = controller;
  panel.reset();
  panel.setStatus("sending");
  ui.run.disabled = true;
  ui.cancel.disabled = false;
  ui.endpoint.disabled = true;
  try {
    const request = { endpoint, body, panel, signal: controller.signal, apiKey };
    await (endpoint.streaming ? runStreaming(request) : runOnce(request));
  } catch (error) {
    if (controller.signal.aborted && isAbortError(error)) panel.setStatus("cancelled");
    else showFailure(error, "NETWORK_ERROR");
  } finally {
    active = undefined;
    panel.setQueue(null);
    ui.run.disabled = false;
    ui.cancel.disabled = true;
    ui.endpoint.disabled = false;
  }
}

/** Puts the run in the app's queue instead; the queued list follows it from there. */
async function submitToQueue(endpoint: PlaygroundEndpoint, body: unknown): Promise<void> {
  ui.run.disabled = true;
  try {
    await queue.submit(endpoint.path, body);
  } catch (error) {
    showFailure(error, "NETWORK_ERROR");
  } finally {
    ui.run.disabled = false;
  }
}

/**
 * The app's id: in the page the server rendered, or, for the shell a server with keys sends,
 * from `GET /health`. Without one the page offers no queue.
 */
async function learnAppId(): Promise<string | undefined> {
  const named = ui.header.dataset.appId;
  if (named !== undefined && named !== "") return named;
  try {
    // The full report, with the queue's app id, is for callers with a key (probes get less).
    const response = await fetch("/health", {
      headers: { accept: "application/json", ...keyHeaders(apiKey) },
    });
    const report: unknown = await response.json();
    const queueReport = isRecord(report) && isRecord(report.queue) ? report.queue : undefined;
    return typeof queueReport?.appId === "string" ? queueReport.appId : undefined;
  } catch {
    return undefined;
  }
}

function cancel(): void {
  if (active === undefined || active.signal.aborted) return;
  panel.log("cancel", "aborted by you");
  active.abort();
}

/**
 * The app's OpenAPI document. A 401 means the server wants an API key: the page asks for one
 * (again, if the kept or typed one is refused) and keeps the one that works.
 */
async function loadDocument(): Promise<unknown> {
  let key = storedApiKey();
  for (;;) {
    const response = await fetch("/openapi.json", {
      headers: { accept: "application/json", ...keyHeaders(key) },
    });
    if (response.status === 401) {
      keepApiKey(undefined);
      panel.setStatus("needs-key");
      key = await askForApiKey(
        ui,
        key === undefined
          ? "This server needs an API key."
          : "The server refused that key; try another.",
      );
      panel.setStatus("loading");
      continue;
    }
    if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}`);
    keepApiKey(key);
    apiKey = key;
    return await response.json();
  }
}

/** The app's title from its document, for a page the server sent without it (see api-key.ts). */
function showAppTitle(doc: unknown): void {
  const title = isRecord(doc) && isRecord(doc.info) ? doc.info.title : undefined;
  if (ui.header.dataset.titled !== "false" || typeof title !== "string" || title === "") return;
  const subtitle = el("span", { class: "muted" }, document.title);
  ui.title.textContent = title;
  ui.title.after(" ", subtitle);
  document.title = title;
  ui.header.dataset.titled = "true";
}

async function start(): Promise<void> {
  panel.setStatus("loading");
  let doc: unknown;
  try {
    doc = await loadDocument();
  } catch (error) {
    showFailure(error, "OPENAPI_UNAVAILABLE");
    return;
  }
  showAppTitle(doc);
  appId = await learnAppId();
  ui.viaQueueLabel.hidden = appId === undefined;
  endpoints = listEndpoints(doc);
  ui.endpoint.textContent = "";
  endpoints.forEach((endpoint, i) => {
    const label = `POST ${endpoint.path}${endpoint.streaming ? " · streaming" : ""}`;
    ui.endpoint.appendChild(el("option", { value: String(i) }, label));
  });
  if (endpoints.length === 0) {
    panel.showError({ code: "NO_ENDPOINTS", message: "/openapi.json lists no POST endpoints." });
    panel.setStatus("idle");
    return;
  }
  const wanted = new URLSearchParams(location.search).get("endpoint");
  const index = Math.max(
    0,
    endpoints.findIndex((e) => e.path === wanted),
  );
  ui.endpoint.value = String(index);
  selectEndpoint(doc, index);
  ui.endpoint.addEventListener("change", () => selectEndpoint(doc, Number(ui.endpoint.value)));
  ui.run.disabled = false;
  panel.setStatus("idle");
  document.documentElement.setAttribute("data-ready", "true");
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  void runSelected();
});
ui.cancel.addEventListener("click", cancel);
void start();
