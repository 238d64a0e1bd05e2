import { abortReason } from "../errors.ts";
import { ConnectionError, type HttpError, UnexpectedResponseError } from "./errors.ts";
import { bodyText, describe, httpErrorOf, send } from "./http.ts";
import type { QueueCallOptions, ResolvedQueueCall } from "./queue-options.ts";

/** One request of a queue call. */
export interface QueueFetch {
  readonly method: "GET" | "POST" | "PUT";
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The queued request's id, for the errors; unknown before `submit()` is answered. */
  readonly requestId?: string;
}

/**
 * Sends one request of a queue call and hands its answer to `read`, whatever its status; an
 * unreachable server is CONNECTION_FAILED, and an abort of `signal`, even inside `read`, rejects
 * with its reason.
 */
export async function queueFetch<T>(
  call: ResolvedQueueCall,
  request: QueueFetch,
  { signal }: QueueCallOptions,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  try {
    const response = await send(
      call.fetch,
      request.url,
      {
        method: request.method,
        headers: {
          ...call.headers,
          accept: "application/json",
          ...(request.body === undefined ? {} : { "content-type": "application/json" }),
          ...request.headers,
        },
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(signal === undefined ? {} : { signal }),
      },
      request.requestId,
    );
    return await read(response);
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    throw error;
  }
}

/** A 2xx answer's JSON body; anything else there is a protocol error. */
export async function jsonBody(response: Response, requestId?: string): Promise<unknown> {
  const facts = requestId === undefined ? {} : { requestId };
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new ConnectionError(`The answer broke off: ${describe(error)}`, {
      cause: error,
      ...facts,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UnexpectedResponseError(
      `Expected a JSON answer, got ${JSON.stringify(text.slice(0, 100))}`,
      {
        cause: error,
        status: response.status,
        ...facts,
      },
    );
  }
}

/** The typed error of a non-2xx answer to a queue call, naming the queued request when known. */
export async function queueHttpError(response: Response, requestId?: string): Promise<HttpError> {
  return httpErrorOf(response, await bodyText(response), { requestId });
}
