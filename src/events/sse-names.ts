/**
 * Every name troupe's HTTP streaming protocol puts on the wire (docs/protocol.md): the two SSE
 * dialects, the event names, the headers and the reserved paths. The server, the client and the
 * docs use these and nothing else. Browser-safe (no imports).
 */

export const SSE_CONTENT_TYPE = "text/event-stream";

/**
 * The two SSE dialects. `fal`: fal's format, plain `data: <json>` events with the final result
 * last (the default). `troupe`: troupe's own, with ids, typed events and resume.
 */
export type Dialect = "fal" | "troupe";

/** The dialects by name, for comparisons that read as words. */
export const Dialect = { fal: "fal", troupe: "troupe" } as const satisfies Record<Dialect, Dialect>;

/** Event names of troupe's dialect (and the one named event of fal's: `error`). */
export const SseEvent = {
  queued: "queued",
  started: "started",
  result: "result",
  error: "error",
  done: "done",
  /**
   * A queued request's stream only: its replica was lost and it runs again from the start
   * (`{"attempt":n,"error":<public error>}`); its `started` and results follow again.
   */
  retry: "retry",
} as const;

/** Request and response headers of the protocol (lower case, as Node reports them). */
export const SseHeader = {
  /** Selects the dialect on a request (`troupe` or `fal`, the default); echoed on the response. */
  dialect: "troupe-dialect",
  /** The id of the last event a resuming client processed. */
  lastEventId: "last-event-id",
  /** Carried by every response: the id the server chose (an incoming one is only logged). */
  requestId: "x-request-id",
  /** The same id, under the name fal's clients read it by. */
  falRequestId: "x-fal-request-id",
  /**
   * On a stream's response, the secret that proves its starter: resuming the stream or
   * cancelling it (`DELETE /requests/<id>`) needs it back in this request header.
   */
  resumeToken: "troupe-resume-token",
} as const;

/** `DELETE <REQUESTS_PATH>/<id>` cancels a request; endpoints cannot live under it. */
export const REQUESTS_PATH = "/requests";

/** The queue's routes live under `<QUEUE_PATH>/<appId>` (fal's `queue.fal.run/<appId>`). */
export const QUEUE_PATH = "/queue";

/** fal's request headers on a queue submission. */
export const QueueHeader = {
  /** `normal` (the default) or `low`: every `normal` request is taken before any `low` one. */
  priority: "x-fal-queue-priority",
  /** Seconds after submission past which the request fails with REQUEST_TIMEOUT. */
  timeout: "x-fal-request-timeout",
} as const;

/** `GET <path>?<RESUME_QUERY>=<id>` resumes a troupe-dialect stream. */
export const RESUME_QUERY = "requestId";

/** A comment heartbeat; SSE readers ignore it, proxies see traffic. */
export const SSE_HEARTBEAT = ": ping\n\n";

/** The dialect a request's `troupe-dialect` header asks for; `undefined` for a value it cannot be. */
export function dialectOf(header: string | readonly string[] | undefined): Dialect | undefined {
  if (header === undefined) return Dialect.fal;
  const value = (typeof header === "string" ? header : header[0])?.trim().toLowerCase();
  if (value === undefined || value === "" || value === Dialect.fal) return Dialect.fal;
  return value === Dialect.troupe ? Dialect.troupe : undefined;
}
