import { abortReason } from "../errors.ts";
import { UnexpectedResponseError } from "./errors.ts";
import { httpError, responseRequestId, send } from "./http.ts";
import { type RunOptions, resolvePath, resolveRequest } from "./options.ts";
import { createStream } from "./stream.ts";
import { Dialect, endpointUrl, SSE_CONTENT_TYPE, SseHeader } from "./wire.ts";

/**
 * Calls an endpoint and resolves with its JSON result: POSTs `input` as JSON to `url` + `path`.
 * A streaming endpoint works too: its events are read and the final result returned.
 *
 * @example
 * ```ts
 * const result = await run("http://127.0.0.1:8000", { input: { prompt: "A sunset" } });
 * ```
 */
export async function run<Output = unknown, Input = unknown>(
  url: string,
  options: RunOptions<Input> = {},
): Promise<Output> {
  const request = resolveRequest(url, options);
  const { signal } = options;
  signal?.throwIfAborted();
  const endpoint = endpointUrl(request.base, resolvePath(options.path, "/"));
  try {
    const response = await send(request.fetch, endpoint, {
      method: "POST",
      headers: {
        ...request.headers,
        accept: `application/json, ${SSE_CONTENT_TYPE}`,
        "content-type": "application/json",
        [SseHeader.dialect]: Dialect.troupe,
      },
      body: request.body,
      ...(signal === undefined ? {} : { signal }),
    });
    const requestId = responseRequestId(response);
    if (!response.ok) throw await httpError(response, requestId);
    if ((response.headers.get("content-type") ?? "").startsWith(SSE_CONTENT_TYPE)) {
      const events = createStream<unknown, Output>(
        url,
        { ...options, path: resolvePath(options.path, "/") },
        { response },
      );
      return await events.done();
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as Output;
    } catch (error) {
      throw new UnexpectedResponseError(
        `Expected a JSON result, got ${JSON.stringify(text.slice(0, 100))}`,
        {
          cause: error,
          status: response.status,
          ...(requestId === undefined ? {} : { requestId }),
        },
      );
    }
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    throw error;
  }
}
