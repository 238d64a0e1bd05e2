import { ErrorCode } from "../errors.ts";
import { HttpError } from "./errors.ts";
import { bodyText, httpErrorOf } from "./http.ts";
import { queueFetch } from "./queue-fetch.ts";
import { type QueueCallOptions, queuedRequestUrl, resolveQueueCall } from "./queue-options.ts";

/** What `cancel()` found: the request is being cancelled, or it had already ended. */
export type CancelOutcome = "CANCELLATION_REQUESTED" | "ALREADY_COMPLETED";

/**
 * Cancels a queued request from any replica (fal's `queue.cancel`): a waiting one leaves the queue
 * without running, a running one's `ctx.signal` fires on every rank; either then completes with
 * an ABORTED error. Resolves `ALREADY_COMPLETED` for a request that had ended; an unknown or
 * expired id rejects with a 404 `HttpError` (NOT_FOUND).
 */
export async function cancel(
  baseUrl: string,
  appId: string,
  requestId: string,
  options: QueueCallOptions = {},
): Promise<CancelOutcome> {
  const call = resolveQueueCall(baseUrl, appId, options);
  const url = queuedRequestUrl(call.queue, requestId, "/cancel");
  return await queueFetch(call, { method: "PUT", url, requestId }, options, async (response) => {
    const text = await bodyText(response);
    const outcome = statusOf(text);
    if (outcome === "CANCELLATION_REQUESTED" || outcome === "ALREADY_COMPLETED") return outcome;
    if (outcome === "NOT_FOUND") {
      // The store's own answer, `{"status":"NOT_FOUND"}`, carries no error body of its own.
      throw new HttpError(ErrorCode.NOT_FOUND, `HTTP ${response.status}: No request ${requestId}`, {
        status: response.status,
        requestId,
      });
    }
    throw httpErrorOf(response, text, { requestId });
  });
}

function statusOf(text: string): unknown {
  try {
    return (JSON.parse(text) as { status?: unknown } | null)?.status;
  } catch {
    return undefined;
  }
}
