/**
 * What the client puts on the wire or reads from it (docs/protocol.md). The names are the
 * server's own constants from `../encoding/sse.ts`, which has no imports and so is safe in a
 * browser bundle; the URLs the protocol builds from them are here.
 */
export {
  SSE_CONTENT_TYPE,
  SseErrorCode,
  SseEvent as WireEvent,
  SseHeader,
  TROUPE_PROTOCOL_VERSION,
} from "../encoding/sse.ts";

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

/** `base` (no trailing slash) joined with `path`, a leading slash added when missing. */
export function endpointUrl(base: string, path: string): string {
  return `${base}${path.startsWith("/") ? path : `/${path}`}`;
}
