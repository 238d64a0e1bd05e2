import { ClientStream } from "./client-stream.ts";
import { systemClock } from "./clock.ts";
import { resolveReconnect, resolveRequest, resolveTimeout } from "./options.ts";
import {
  queuedRequestUrl,
  resolveLastEventId,
  resolveQueueCall,
  type StreamQueuedOptions,
} from "./queue-options.ts";
import { Session } from "./session.ts";

/**
 * A queued request's events, as `stream()` gives a streamed one's: iterate it for the results,
 * `events()` for every typed event (a `retry` one too, when the request's replica was lost and
 * it runs again), `done()` for the final result; a failed request rejects with a
 * `RequestFailedError`. Reads `GET <baseUrl>/queue/<appId>/requests/<id>/events` from after
 * `lastEventId`, waits while the request is queued, and resumes a dropped connection with
 * `Last-Event-ID` on whichever replica answers, none lost or repeated. Leaving the iteration,
 * `cancel()` or the `signal` only stop reading: the request goes on (cancel it with `cancel()`).
 *
 * @example
 * ```ts
 * const { requestId } = await submit(url, "local/my-app", { prompt: "A sunset" }, { path: "/stream" });
 * for await (const event of streamQueued(url, "local/my-app", requestId)) console.log(event);
 * ```
 */
export function streamQueued<Result = unknown, Output = unknown>(
  baseUrl: string,
  appId: string,
  requestId: string,
  options: StreamQueuedOptions = {},
): ClientStream<Result, Output> {
  const { queue } = resolveQueueCall(baseUrl, appId, options);
  const url = queuedRequestUrl(queue, requestId, "/events");
  const session = new Session<Result, Output>({
    endpoint: url,
    request: resolveRequest(baseUrl, options),
    timeout: resolveTimeout(options.timeout),
    reconnect: resolveReconnect(options.reconnect),
    signal: options.signal,
    clock: systemClock,
    follow: { url, requestId, afterId: resolveLastEventId(options.lastEventId) },
  });
  return new ClientStream(session, options.onError);
}
