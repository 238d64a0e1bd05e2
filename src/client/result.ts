import { ErrorCode } from "../errors.ts";
import { RequestFailedError } from "./errors.ts";
import { bodyText, httpErrorOf, parseErrorBody } from "./http.ts";
import { jsonBody, queueFetch } from "./queue-fetch.ts";
import { type QueueCallOptions, queuedRequestUrl, resolveQueueCall } from "./queue-options.ts";

/**
 * A completed request's output (fal's `queue.result`): the endpoint's return value, or for a
 * streaming endpoint its final result. A request that failed or was cancelled rejects with a
 * `RequestFailedError` carrying the server's code (`CALL_FAILED`, `ABORTED`, `REQUEST_TIMEOUT`,
 * …) and the HTTP status it was answered with; one not completed yet is a 400 `HttpError`, an
 * unknown id a 404 `HttpError` (NOT_FOUND). Wait for `COMPLETED` first, or use `subscribe()`.
 */
export async function result<Output = unknown>(
  baseUrl: string,
  appId: string,
  requestId: string,
  options: QueueCallOptions = {},
): Promise<Output> {
  const call = resolveQueueCall(baseUrl, appId, options);
  const url = queuedRequestUrl(call.queue, requestId);
  return await queueFetch(call, { method: "GET", url, requestId }, options, async (response) => {
    if (response.ok) return (await jsonBody(response, requestId)) as Output;
    const text = await bodyText(response);
    const error = parseErrorBody(text);
    // The request's own failure names the request; a refusal of this GET names the GET.
    if (error === undefined || error.requestId !== requestId) {
      throw httpErrorOf(response, text, { requestId });
    }
    throw new RequestFailedError(error.code ?? ErrorCode.REQUEST_FAILED, error.message, {
      status: response.status,
      requestId,
      ...(error.rank === undefined ? {} : { rank: error.rank }),
      ...(error.issues === undefined ? {} : { issues: error.issues }),
      remoteName: error.name,
    });
  });
}
