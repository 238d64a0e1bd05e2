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
  errorJson,
  readErrorJson,
  resultJson,
  type SseMessage,
  type WireEvent,
} from "./event-data.ts";
import type { RequestEvent } from "./request-event.ts";
import { encodeDataEvent, encodeEvent } from "./sse-fields.ts";
import { SSE_HEARTBEAT, SseEvent } from "./sse-names.ts";
import { toJson } from "./to-json.ts";

const HEARTBEAT = new TextEncoder().encode(SSE_HEARTBEAT);

/** The bytes of `event` in fal's dialect; `undefined` for events it has no form for (queue, start). */
export function encodeFalEvent(
  event: RequestEvent<unknown, unknown, unknown>,
  context: EncodeContext,
): Uint8Array | undefined {
  switch (event.type) {
    case "result":
      return encodeDataEvent(resultJson(event, context.forwardsAllRanks));
    case "done":
      return encodeDataEvent(toJson(event.data));
    case "error":
      return encodeEvent({ event: SseEvent.error, data: errorJson(event, context.requestId) });
    case "heartbeat":
      return HEARTBEAT;
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
