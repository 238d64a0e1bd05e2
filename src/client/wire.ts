/**
 * Names the client puts on the wire or reads from it (docs/protocol.md). The event names and the
 * content type come from `../encoding/sse.ts`, which has no imports; the headers and event names
 * it does not hold yet are here, in one place.
 */
export { SSE_CONTENT_TYPE } from "../encoding/sse.ts";

/** The request header that selects troupe's own dialect, and its value. */
export const PROTOCOL_HEADER = "troupe-protocol";
export const PROTOCOL_VERSION = "1";
export const REQUEST_ID_HEADER = "x-request-id";
export const LAST_EVENT_ID_HEADER = "last-event-id";

/** Event names of dialect 2. An unnamed `data:` event is a fal-dialect result. */
export const WireEvent = {
  queued: "queued",
  started: "started",
  result: "result",
  error: "error",
  done: "done",
} as const;

/** `<base>/requests/<id>`: DELETE cancels the request. */
export function requestUrl(base: string, requestId: string): string {
  return `${base}/requests/${encodeURIComponent(requestId)}`;
}

/** `<base><path>?requestId=<id>`: GET with `Last-Event-ID` resumes the stream. */
export function resumeUrl(endpoint: string, requestId: string): string {
  const url = new URL(endpoint);
  url.searchParams.set("requestId", requestId);
  return url.href;
}

/** `base` without trailing slashes joined with `path` (a leading slash added when missing). */
export function endpointUrl(base: string, path: string): string {
  return `${base}${path.startsWith("/") ? path : `/${path}`}`;
}
