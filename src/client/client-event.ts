import type {
  DoneEvent,
  ErrorEvent,
  QueuedEvent,
  ResultEvent,
  StartedEvent,
} from "../events/request-event.ts";
import type { NonFatalStreamError } from "./errors.ts";

/** The event's sequence number in troupe's dialect; `undefined` in fal's, which has none. */
interface Numbered {
  readonly id: number | undefined;
}

/**
 * A streamed request's events as `stream(...).events()` yields them: the request events every
 * part of troupe speaks of (src/events/request-event.ts), with their ids. A fatal `error` event
 * is not yielded: it rejects the iteration (and `done()`) with a `RequestFailedError`. A result
 * has no `rank` here: the wire carries it inside the data when the runner forwards every rank's.
 */
export type ClientEvent<Result = unknown, Output = unknown> =
  | QueuedEvent
  | StartedEvent
  | (Omit<ResultEvent<Result>, "rank"> & Numbered)
  | (ErrorEvent<NonFatalStreamError> & { readonly fatal: false } & Numbered)
  | (DoneEvent<Output> & Numbered);

export type { Dialect } from "../events/sse-names.ts";
