/**
 * troupe's own SSE dialect, both ways: typed events (`queued`, `started`, `result`, `error`,
 * `done`), the request-data ones numbered by `id:` from 1 so a client can resume with
 * `Last-Event-ID`, and a `retry:` line first. The stream ends cleanly after its `done` or fatal
 * `error`; the reader takes that event, not the end of the response, as the outcome.
 */
import {
  type DecodeHelpers,
  type EncodeContext,
  eventData,
  readErrorJson,
  type SseMessage,
  type WireEvent,
} from "./event-data.ts";
import type { RequestEvent } from "./request-event.ts";
import { encodeEvent, HEARTBEAT_BYTES } from "./sse-fields.ts";
import { SseEvent } from "./sse-names.ts";

const STARTED = encodeEvent({ event: SseEvent.started, data: "{}" });

/** `true` for the events that carry request data, and so an id (result, error, done). */
export function carriesId(event: RequestEvent<unknown, unknown, unknown>): boolean {
  return event.type === "result" || event.type === "error" || event.type === "done";
}

/** The bytes of `event` in troupe's dialect; `id` is its sequence number when it carries one. */
export function encodeTroupeEvent(
  event: RequestEvent<unknown, unknown, unknown>,
  id: number | undefined,
  context: EncodeContext,
): Uint8Array {
  switch (event.type) {
    case "queued":
      return encodeEvent({ event: SseEvent.queued, data: `{"position":${event.position}}` });
    case "started":
      return STARTED;
    case "result":
    case "error":
    case "done":
      return encodeEvent({
        event: SseEvent[event.type],
        ...(id === undefined ? {} : { id: String(id) }),
        data: eventData(event, context),
      });
    case "heartbeat":
      return HEARTBEAT_BYTES;
  }
}

/** The `retry:` line a troupe-dialect response starts with: the client's reconnect delay. */
export function encodeRetry(ms: number): Uint8Array {
  return new TextEncoder().encode(`retry: ${Math.trunc(ms)}\n\n`);
}

/** One troupe-dialect message read back; `undefined` for an event name this reader does not know. */
export function decodeTroupeMessage(
  message: SseMessage,
  helpers: DecodeHelpers,
): WireEvent | undefined {
  switch (message.event) {
    case SseEvent.queued: {
      const position = (helpers.parse(message.data) as { position?: unknown } | null)?.position;
      if (typeof position !== "number") {
        helpers.fail(`Expected a queued event to carry a numeric position, got ${message.data}`);
      }
      return { type: "queued", position };
    }
    case SseEvent.started:
      return { type: "started" };
    case SseEvent.result:
      return { type: "result", rank: 0, data: helpers.parse(message.data) };
    case SseEvent.done:
      return { type: "done", data: helpers.parse(message.data) };
    case SseEvent.error:
      return readErrorJson(message.data, helpers);
    case undefined:
    case "message":
      return helpers.fail("A troupe-dialect stream sent an unnamed event");
    default:
      // Skipped, as SSE readers do with names they do not know (its id still counts).
      return undefined;
  }
}
