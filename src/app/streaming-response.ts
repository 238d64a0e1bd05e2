import { SSE_CONTENT_TYPE } from "../events/sse-names.ts";
import { hasMarker } from "../internal/marker.ts";

const MARKER: unique symbol = Symbol.for("troupe.StreamingResponse");

/** Options of a {@link StreamingResponse}. */
export interface StreamingResponseOptions {
  /** The response's media type; troupe serves streams as Server-Sent Events. @default "text/event-stream" */
  readonly mediaType?: string;
}

/**
 * What an endpoint returns to stream: a `RunnerStream` (with `asTextEvents` or not: the server
 * reads its typed events and writes them in the client's dialect), or any async iterable of
 * values (each a result) or of SSE bytes or strings (passed through in fal's dialect, re-framed
 * in troupe's). The counterpart of FastAPI's `StreamingResponse` in fal's apps.
 *
 * @example
 * ```ts
 * return new StreamingResponse(this.runner.stream(input, { asTextEvents: true }), {
 *   mediaType: "text/event-stream",
 * });
 * ```
 */
export class StreamingResponse<Item = unknown> {
  /**
   * `true` for a response made by any copy of troupe (an app importing troupe's sources, served
   * by the compiled `troupe run`), where `instanceof` would say no.
   */
  static isInstance(value: unknown): value is StreamingResponse {
    return hasMarker(value, MARKER);
  }

  readonly [MARKER] = true;
  readonly mediaType: string;
  constructor(
    readonly body: AsyncIterable<Item>,
    options: StreamingResponseOptions = {},
  ) {
    if (body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
      throw new TypeError("Expected the body of a StreamingResponse to be an async iterable");
    }
    this.mediaType = options.mediaType ?? SSE_CONTENT_TYPE;
  }
}
