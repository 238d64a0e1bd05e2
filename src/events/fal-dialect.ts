/**
 * fal's SSE dialect, both ways: every result and then the final result as `data: <json>\n\n`,
 * nothing else but `: ping` heartbeats and, when the request fails, one `event: error` whose data
 * is `{"error":<public error>,"fatal":true}`. fal's clients read only the `data:` lines, so after
 * that event the server aborts the response (no terminating chunk): a failure never reads as a
 * clean end (docs/protocol.md).
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
import { encodeDataEvent, encodeEvent, HEARTBEAT_BYTES } from "./sse-fields.ts";
import { SseEvent } from "./sse-names.ts";

/** The bytes of `event` in fal's dialect; `undefined` for events it has no form for (queue, start). */
export function encodeFalEvent(
  event: RequestEvent<unknown, unknown, unknown>,
  context: EncodeContext,
): Uint8Array | undefined {
  switch (event.type) {
    case "result":
    case "done":
      return encodeDataEvent(eventData(event, context));
    case "error":
      return encodeEvent({ event: SseEvent.error, data: eventData(event, context) });
    case "heartbeat":
      return HEARTBEAT_BYTES;
    default:
      return undefined;
  }
}

/**
 * One fal-dialect message read back: an unnamed event is a result (the reader takes the last one
 * as the final result when the stream ends cleanly), `error` an error; other names are skipped.
 */
export function decodeFalMessage(
  message: SseMessage,
  helpers: DecodeHelpers,
): WireEvent | undefined {
  if (message.event === undefined || message.event === "message") {
    return { type: "result", rank: 0, data: helpers.parse(message.data) };
  }
  if (message.event === SseEvent.error) return readErrorJson(message.data, helpers);
  return undefined;
}
