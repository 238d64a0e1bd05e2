import { jsonBody, queueFetch, queueHttpError } from "./queue-fetch.ts";
import { queuedRequestUrl, resolveQueueCall, type StatusOptions } from "./queue-options.ts";
import { type QueueStatus, readQueueStatus } from "./queue-status.ts";

/**
 * A queued request's status now (fal's `queue.status`): `IN_QUEUE` with its `queuePosition`,
 * `IN_PROGRESS`, or `COMPLETED` (with `error` and `errorType` when it failed), with its logs
 * when `logs` is set. An unknown or expired id (or another key's request) is a 404 `HttpError`
 * with code NOT_FOUND.
 */
export async function status(
  baseUrl: string,
  appId: string,
  requestId: string,
  options: StatusOptions = {},
): Promise<QueueStatus> {
  const call = resolveQueueCall(baseUrl, appId, options);
  const url = queuedRequestUrl(call.queue, requestId, `/status${options.logs ? "?logs=1" : ""}`);
  return await queueFetch(call, { method: "GET", url, requestId }, options, async (response) => {
    if (!response.ok) throw await queueHttpError(response, requestId);
    return readQueueStatus(await jsonBody(response, requestId));
  });
}
