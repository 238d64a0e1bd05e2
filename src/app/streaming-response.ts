import { SSE_CONTENT_TYPE } from "../encoding/sse.ts";

const BRAND: unique symbol = Symbol.for("troupe.StreamingResponse");

/** Options of a {@link StreamingResponse}. */
export interface StreamingResponseOptions {
  /** The response's media type; troupe serves streams as Server-Sent Events. @default "text/event-stream" */
  readonly mediaType?: string;
}

/**
 * What an endpoint returns to stream: an async iterable of SSE bytes or strings (passed through
 * as they are, e.g. `runner.stream(input, { asTextEvents: true })`) or of values (each sent as a
 * `data:` event). A `RunnerStream` is also sent in troupe's own dialect, with typed events, when
 * the client asks for it. The counterpart of FastAPI's `StreamingResponse` in fal's apps.
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
   * `instanceof` answers by brand, so a response made with another copy of troupe (an app
   * importing troupe's sources, served by the compiled `troupe run`) is still recognised.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && BRAND in value;
  }

  readonly [BRAND] = true;
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
