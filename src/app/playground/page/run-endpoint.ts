import { run, stream } from "../../../client/index.ts";
import { SseHeader } from "../../../events/sse-names.ts";
import type { PlaygroundEndpoint } from "./list-endpoints.ts";
import { observedFetch } from "./observed-fetch.ts";
import type { OutputPanel } from "./output-panel.ts";
import { newRequestId } from "./request-id.ts";
import { displayJson } from "./result-values.ts";

/** One run of an endpoint from the page. */
export interface RunRequest {
  readonly endpoint: PlaygroundEndpoint;
  readonly body: unknown;
  readonly panel: OutputPanel;
  /** Cancel: aborting it stops the request on every rank. */
  readonly signal: AbortSignal;
  /** The server's API key, sent on every request of the run (the POST, resumes, the cancel). */
  readonly apiKey: string | undefined;
}

/** Dropped connections in a row that the page resumes before it gives up. */
const RESUME_ATTEMPTS = 5;

/**
 * Runs a streaming endpoint with `troupe/client`'s `stream()`, showing each event as it arrives.
 * The client resumes a dropped connection after the last event it read and, on an abort, cancels
 * the request on the server; the page only shows both. Rejects with the client's error.
 */
export async function runStreaming(request: RunRequest): Promise<void> {
  const { endpoint, body, panel, signal } = request;
  const s = stream(location.origin, {
    path: endpoint.path,
    input: body,
    signal,
    ...keyOption(request),
    reconnect: { attempts: RESUME_ATTEMPTS },
    fetch: observedFetch({
      onResume: (lastEventId) => {
        panel.log("resume", `connection lost; resuming after event #${lastEventId}`);
        panel.setStatus("reconnecting");
      },
      onResumed: () => panel.setStatus("running"),
      onCancel: (path, outcome) => panel.log("cancel", `DELETE ${path} ${outcome}`),
    }),
  });
  let last: { readonly value: unknown } | undefined;
  for await (const event of s.events()) {
    panel.setRequestId(s.requestId);
    switch (event.type) {
      case "queued":
        panel.setStatus("queued");
        panel.setQueue(event.position);
        panel.log("queued", `position ${event.position}`);
        break;
      case "started":
        panel.setQueue(null);
        panel.setStatus("running");
        panel.log("started", "");
        break;
      case "result":
        if (panel.status !== "running") panel.setStatus("running");
        panel.setQueue(null);
        last = { value: event.data };
        panel.showIntermediate(event.data, event.id);
        break;
      case "error": {
        const { code, message, rank } = event.error;
        panel.log("warning", displayJson({ code, message, rank }) ?? "", event.id);
        break;
      }
      case "done":
        panel.setProgress(1);
        // A plain async iterable (not a runner's stream) has no final value of its own: the
        // server ends it with `done: null`, and by fal's convention its last result is the
        // final one.
        if (event.data === null && last !== undefined) {
          panel.showResult(
            last.value,
            "The stream's last result (the endpoint sent no final value).",
          );
        } else {
          panel.showResult(event.data);
        }
        panel.setStatus("done");
        panel.log("done", displayJson(event.data) ?? "", event.id);
        break;
    }
  }
}

/**
 * Calls an endpoint that does not stream with `troupe/client`'s `run()`. It names the request
 * (`x-request-id`) itself, so the page can show the id while it waits for the one answer; an
 * abort closes the connection, which cancels such a call on the server.
 */
export async function runOnce(request: RunRequest): Promise<void> {
  const { endpoint, body, panel, signal } = request;
  const requestId = newRequestId();
  panel.setRequestId(requestId);
  panel.setStatus("running");
  const value = await run(location.origin, {
    path: endpoint.path,
    input: body,
    signal,
    ...keyOption(request),
    headers: { [SseHeader.requestId]: requestId },
  });
  panel.setProgress(1);
  panel.showResult(value);
  panel.log("done", displayJson(value) ?? "");
  panel.setStatus("done");
}

/** `troupe/client`'s `apiKey` option for the run: none without a key. */
function keyOption({ apiKey }: RunRequest): { apiKey?: string } {
  return apiKey === undefined ? {} : { apiKey };
}
