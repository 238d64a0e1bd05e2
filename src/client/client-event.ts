import type { NonFatalStreamError } from "./errors.ts";

/**
 * A streamed request's events, as `stream(...).events()` yields them. A fatal `error` event is
 * not yielded: it rejects the iteration (and `done()`) with a `RequestFailedError`.
 */
export type ClientEvent<Result = unknown, Output = unknown> =
  /** The request waits; `position` requests are ahead of it. */
  | { readonly type: "queued"; readonly position: number }
  /** Every rank has started it. */
  | { readonly type: "started" }
  /** An intermediate result. `id` is its sequence number (undefined in the fal dialect). */
  | { readonly type: "result"; readonly data: Result; readonly id: number | undefined }
  /** A non-fatal error (`addStreamingError`): the request goes on. */
  | {
      readonly type: "error";
      readonly error: NonFatalStreamError;
      readonly fatal: false;
      readonly id: number | undefined;
    }
  /** The final result; the last event. */
  | { readonly type: "done"; readonly data: Output; readonly id: number | undefined };

/**
 * `"troupe"`: the server answered in troupe's dialect (event names, ids, resumable).
 * `"fal"`: plain `data:` events, the last of which is the final result.
 */
export type Dialect = "troupe" | "fal";
