import type {
  DoneEvent,
  ErrorEvent,
  QueuedEvent,
  ResultEvent,
  StartedEvent,
} from "../events/request-event.ts";
import type { NonFatalStreamError, RequestError } from "./errors.ts";

/** The event's sequence number in troupe's dialect; `undefined` in fal's, which has none. */
interface Numbered {
  readonly id: number | undefined;
}

/**
 * A queued request (`streamQueued()`) runs again from the start: the replica that ran it was lost
 * (killed, cut off) and another took it over. Its `started` and results come again after it.
 */
export interface RetryEvent {
  readonly type: "retry";
  /** The attempt that starts now: 2 after the first lost replica. */
  readonly attempt: number;
  /** Why the previous attempt ended, with the server's `code`. */
  readonly error: RequestError;
  readonly id: number | undefined;
}

/**
 * A streamed request's events as `stream(...).events()` yields them: the request events every
 * part of troupe speaks of (src/events/request-event.ts), with their ids. A fatal `error` event
 * is not yielded: it rejects the iteration (and `done()`) with a `RequestFailedError`. A result
 * has no `rank` here: the wire carries it inside the data when the runner forwards every rank's.
 * `retry` comes only in a queued request's stream.
 */
export type ClientEvent<Result = unknown, Output = unknown> =
  | QueuedEvent
  | StartedEvent
  | (Omit<ResultEvent<Result>, "rank"> & Numbered)
  | (ErrorEvent<NonFatalStreamError> & { readonly fatal: false } & Numbered)
  | (DoneEvent<Output> & Numbered)
  | RetryEvent;

export type { Dialect } from "../events/sse-names.ts";
