import { abortReason } from "../errors.ts";
import { ConnectionError, RequestError, UnexpectedResponseError } from "./errors.ts";
import { describe } from "./http.ts";
import { queueFetch, queueHttpError } from "./queue-fetch.ts";
import { queuedRequestUrl, resolveQueueCall, type StatusOptions } from "./queue-options.ts";
import { type QueueStatus, readQueueStatus } from "./queue-status.ts";
import { readMessages } from "./read-messages.ts";
import { SSE_CONTENT_TYPE } from "./wire.ts";

/** A status stream is read for its events alone: no idle timer, no `retry:` to keep. */
const NO_HOOKS = { onWait() {}, onBytes() {}, onRetry() {} };

/**
 * A queued request's statuses as they change (fal's `queue.streamStatus`): the current one
 * first, then each change (its position while it waits, then `IN_PROGRESS`, with its logs when
 * `logs` is set), ending after `COMPLETED`. One connection, nothing polled. A connection that
 * ends before `COMPLETED` rejects with CONNECTION_FAILED: call it again, it starts with the
 * status of that moment. Leaving the iteration closes the connection; the request goes on.
 *
 * @example
 * ```ts
 * for await (const s of statusStream(url, appId, requestId)) {
 *   if (s.status === "IN_QUEUE") console.log(`${s.queuePosition} ahead`);
 * }
 * ```
 */
export function statusStream(
  baseUrl: string,
  appId: string,
  requestId: string,
  options: StatusOptions = {},
): AsyncIterable<QueueStatus> {
  const call = resolveQueueCall(baseUrl, appId, options);
  const suffix = `/status/stream${options.logs ? "?logs=1" : ""}`;
  const url = queuedRequestUrl(call.queue, requestId, suffix);
  return {
    [Symbol.asyncIterator]: () => follow(call, url, requestId, options),
  };
}

async function* follow(
  call: ReturnType<typeof resolveQueueCall>,
  url: string,
  requestId: string,
  options: StatusOptions,
): AsyncGenerator<QueueStatus, void> {
  const { signal } = options;
  const headers = { accept: SSE_CONTENT_TYPE };
  const body = await queueFetch(call, { method: "GET", url, headers, requestId }, options, (r) =>
    eventStreamBody(r, requestId),
  );
  try {
    for await (const message of readMessages(body, NO_HOOKS)) {
      let value: unknown;
      try {
        value = JSON.parse(message.data);
      } catch (error) {
        throw new UnexpectedResponseError(
          `Expected a status object, got ${JSON.stringify(message.data.slice(0, 100))}`,
          { cause: error, requestId },
        );
      }
      const current = readQueueStatus(value);
      yield current;
      if (current.status === "COMPLETED") return;
    }
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    if (error instanceof RequestError) throw error;
    throw new ConnectionError(`The status stream broke off: ${describe(error)}`, {
      cause: error,
      requestId,
    });
  }
  throw new ConnectionError("The status stream ended before the request completed", {
    requestId,
  });
}

async function eventStreamBody(
  response: Response,
  requestId: string,
): Promise<ReadableStream<Uint8Array>> {
  if (!response.ok) throw await queueHttpError(response, requestId);
  const type = response.headers.get("content-type") ?? "none";
  if (!type.startsWith(SSE_CONTENT_TYPE) || response.body === null) {
    await response.body?.cancel();
    throw new UnexpectedResponseError(
      `Expected the status stream to be an event stream, got content type ${type}`,
      { status: response.status, requestId },
    );
  }
  return response.body;
}
