/**
 * What the client puts on the wire or reads from it (docs/protocol.md). The names are the
 * server's own constants from `../events/sse-names.ts`, which has no imports and so is safe in a
 * browser bundle; the URLs the protocol builds from them are here.
 */
import { REQUESTS_PATH, RESUME_QUERY } from "../events/sse-names.ts";

export { Dialect, SSE_CONTENT_TYPE, SseHeader } from "../events/sse-names.ts";

/** `<base>/requests/<id>`: DELETE cancels the request. */
export function requestUrl(base: string, requestId: string): string {
  return `${base}${REQUESTS_PATH}/${encodeURIComponent(requestId)}`;
}

/** `<base><path>?requestId=<id>`: GET with `Last-Event-ID` resumes the stream. */
export function resumeUrl(endpoint: string, requestId: string): string {
  const url = new URL(endpoint);
  url.searchParams.set(RESUME_QUERY, requestId);
  return url.href;
}

/** `base` (no trailing slash) joined with `path`, a leading slash added when missing. */
export function endpointUrl(base: string, path: string): string {
  return `${base}${path.startsWith("/") ? path : `/${path}`}`;
}
