/**
 * A request's life, as every part of troupe speaks of it: the runner yields these events, the
 * app's encoders turn them into bytes (one encoder per SSE dialect), and the client parses bytes
 * back into them. Defined once, here; browser-safe (no Node imports).
 *
 * Order: `queued`* (with positions), `started`, then `result`s and non-fatal `error`s, then
 * exactly one of `done` or a fatal `error`, which is always the last event. `heartbeat` may come
 * anywhere; it carries nothing and only the transport sees it.
 *
 * `Failure` is the error type: an `Error` inside the server, the client's error classes in
 * `troupe/client`.
 */
export type RequestEvent<Result = unknown, Output = unknown, Failure = Error> =
  | QueuedEvent
  | StartedEvent
  | ResultEvent<Result>
  | ErrorEvent<Failure>
  | DoneEvent<Output>
  | HeartbeatEvent;

/** The request waits; `position` requests are ahead of it (0: it runs next). */
export interface QueuedEvent {
  readonly type: "queued";
  readonly position: number;
}

/** Every rank has been given the request. */
export interface StartedEvent {
  readonly type: "started";
}

/** An intermediate result, from `rank` (0 unless the runner forwards every rank's results). */
export interface ResultEvent<Result = unknown> {
  readonly type: "result";
  readonly rank: number;
  readonly data: Result;
  /**
   * The worker's latest-wins key (`addStreamingResult(r, { latestWins })`), inside the server:
   * a store that keeps a request's events keeps only the newest of each key. Not on the wire.
   */
  readonly key?: string;
}

/**
 * `fatal: false`: a worker's `addStreamingError`; the request goes on.
 * `fatal: true`: the request failed; this is the last event.
 */
export interface ErrorEvent<Failure = Error> {
  readonly type: "error";
  readonly error: Failure;
  readonly fatal: boolean;
}

/** Rank 0's return value: the final result, and the last event. */
export interface DoneEvent<Output = unknown> {
  readonly type: "done";
  readonly data: Output;
}

/** Nothing happened for a while; the transport says it is still there (an SSE comment). */
export interface HeartbeatEvent {
  readonly type: "heartbeat";
}

/** Whether `event` is the last event of its request. */
export function isTerminal(event: RequestEvent<unknown, unknown, unknown>): boolean {
  return event.type === "done" || (event.type === "error" && event.fatal);
}
