/**
 * The `data:` payloads both SSE dialects share: a result (tagged with its rank when the runner
 * forwards every rank's results) and an error event's body, `{"error":<public error>,"fatal":…}`.
 */
import { type PublicError, publicError, readPublicError } from "./public-error.ts";
import type { DoneEvent, ErrorEvent, RequestEvent, ResultEvent } from "./request-event.ts";
import { toJson } from "./to-json.ts";

/** A request's events as the client reads them back from either dialect. */
export type WireEvent = Exclude<RequestEvent<unknown, unknown, PublicError>, { type: "heartbeat" }>;

/** One parsed SSE message (as eventsource-parser reports it). */
export interface SseMessage {
  readonly event?: string | undefined;
  readonly id?: string | undefined;
  readonly data: string;
}

/** What a dialect's decoder is given to report bad input in the reader's own terms. */
export interface DecodeHelpers {
  /** JSON.parse, throwing the reader's protocol error. */
  parse(text: string): unknown;
  /** Throws the reader's protocol error with `message`. */
  fail(message: string): never;
}

/** How encoders see the request whose events they write. */
export interface EncodeContext {
  readonly requestId: string;
  /** Results are written as `{"rank":r,"result":…}` (the runner forwards every rank's). */
  readonly forwardsAllRanks: boolean;
}

/**
 * The `data:` JSON of a request-data event (result, error, done), the same in both dialects: a
 * result (`{"rank":r,"result":…}` when the runner forwards every rank's), an error's public form
 * (never its stack or cause) with `fatal`, or the final result.
 */
export function eventData(
  event: ResultEvent | ErrorEvent<unknown> | DoneEvent<unknown>,
  context: EncodeContext,
): string {
  switch (event.type) {
    case "result":
      return toJson(
        context.forwardsAllRanks ? { rank: event.rank, result: event.data } : event.data,
      );
    case "error":
      return JSON.stringify({
        error: publicError(event.error, context.requestId),
        fatal: event.fatal,
      });
    case "done":
      return toJson(event.data);
  }
}

/** An error event read back; anything but `"fatal":false` is fatal. */
export function readErrorJson(data: string, helpers: DecodeHelpers): WireEvent {
  const body = helpers.parse(data) as { error?: unknown; fatal?: unknown } | null;
  return {
    type: "error",
    error: readPublicError(body?.error, "REQUEST_FAILED"),
    fatal: body?.fatal !== false,
  };
}
