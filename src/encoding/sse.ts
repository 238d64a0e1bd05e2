/**
 * Server-Sent Events encoding, and the names troupe gives its events. The default wire format is
 * fal's: every result and the final result as `data: <json>\n\n`, nothing else, so fal's client
 * code reads it unchanged. Errors use a named event (`event: error`), which such clients skip.
 */

export const SSE_CONTENT_TYPE = "text/event-stream";

/** Event names troupe uses besides the unnamed `data:` events (see docs/protocol.md). */
export const SseEvent = {
  error: "error",
  queued: "queued",
  started: "started",
  result: "result",
  done: "done",
} as const;

/** Request and response headers of the HTTP protocol (lower case, as Node reports them). */
export const SseHeader = {
  /** Selects dialect 2; its value is {@link TROUPE_PROTOCOL_VERSION}. */
  protocol: "troupe-protocol",
  /** The id of the last event a resuming client processed. */
  lastEventId: "last-event-id",
  /** Carried by every response; a sane incoming one is honoured. */
  requestId: "x-request-id",
} as const;

/** The value of the `troupe-protocol` header that selects dialect 2. */
export const TROUPE_PROTOCOL_VERSION = "1";

/** A comment heartbeat; SSE readers ignore it, proxies see traffic. */
export const SSE_HEARTBEAT = ": ping\n\n";

/** Error codes that only travel inside an SSE stream. */
export const SseErrorCode = {
  /** The resumed request's events are no longer buffered, or the request is unknown. */
  REPLAY_UNAVAILABLE: "REPLAY_UNAVAILABLE",
  /** The server is shutting down; the request was cancelled. */
  SHUTTING_DOWN: "SHUTTING_DOWN",
} as const;

const encoder = new TextEncoder();

/** `data: <json>\n\n`. `json` must be one line (JSON.stringify output always is). */
export function encodeDataEvent(json: string): Uint8Array {
  return encoder.encode(`data: ${json}\n\n`);
}

export interface SseFields {
  readonly event?: string;
  readonly id?: string;
  readonly retry?: number;
  readonly data: string;
}

/** One event with any fields; multi-line `data` becomes several `data:` lines, as the spec wants. */
export function encodeEvent(fields: SseFields): Uint8Array {
  let out = "";
  if (fields.event !== undefined) out += `event: ${oneLine(fields.event)}\n`;
  if (fields.id !== undefined) out += `id: ${oneLine(fields.id)}\n`;
  if (fields.retry !== undefined) out += `retry: ${Math.trunc(fields.retry)}\n`;
  for (const line of fields.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return encoder.encode(`${out}\n`);
}

function oneLine(value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new TypeError(
      `SSE field values cannot hold line breaks or NUL, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
