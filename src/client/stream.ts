import { ClientStream } from "./client-stream.ts";
import { type Clock, systemClock } from "./clock.ts";
import {
  resolvePath,
  resolveReconnect,
  resolveRequest,
  resolveTimeout,
  type StreamOptions,
} from "./options.ts";
import { Session } from "./session.ts";
import { endpointUrl } from "./wire.ts";

/**
 * Streams a request to a troupe (or fal) app: POSTs `input` as JSON to `url` + `path` and yields
 * each intermediate result as it arrives; `done()` gives the final result. Sends
 * `troupe-dialect: troupe`, so a dropped connection resumes where it left off.
 *
 * @example
 * ```ts
 * const s = stream("http://127.0.0.1:8000", { input: { prompt: "A sunset", steps: 20 } });
 * for await (const event of s) console.log(`Step ${event.step}: ${event.progress * 100}%`);
 * const final = await s.done();
 * ```
 */
export function stream<Result = unknown, Output = unknown, Input = unknown>(
  url: string,
  options: StreamOptions<Input> = {},
): ClientStream<Result, Output> {
  return createStream<Result, Output>(url, options);
}

/** @internal `stream()` with the timers given (tests), or an answer already received (`run()`). */
export function createStream<Result, Output>(
  url: string,
  options: StreamOptions,
  internals: { readonly clock?: Clock; readonly response?: Response } = {},
): ClientStream<Result, Output> {
  const request = resolveRequest(url, options);
  const session = new Session<Result, Output>({
    endpoint: endpointUrl(request.base, resolvePath(options.path, "/stream")),
    request,
    timeout: resolveTimeout(options.timeout),
    reconnect: resolveReconnect(options.reconnect),
    signal: options.signal,
    clock: internals.clock ?? systemClock,
    ...(internals.response === undefined ? {} : { response: internals.response }),
  });
  return new ClientStream(session, options.onError);
}
