import { abortReason, InvalidArgumentError } from "../errors.ts";
import { cancel } from "./cancel.ts";
import { resolvePollInterval, type SubscribeOptions } from "./queue-options.ts";
import type { QueueStatus } from "./queue-status.ts";
import { result } from "./result.ts";
import { status } from "./status.ts";
import { statusStream } from "./status-stream.ts";
import { submit } from "./submit.ts";

/**
 * Submits a request to the app's queue, waits for it to complete and resolves with its result
 * (fal's `subscribe`). `onEnqueue` gets its id, `onQueueUpdate` each status on the way (queue
 * positions, `IN_PROGRESS`, the final `COMPLETED`). It waits on the status stream (`mode:
 * "streaming"`, the default) or asks every `pollInterval` ms (`mode: "polling"`). A failed
 * request rejects with a `RequestFailedError` with the server's code. Aborting `signal` rejects
 * with an AbortError and cancels the request in the queue: it was this call's.
 *
 * @example
 * ```ts
 * const output = await subscribe(url, "local/my-app", { prompt: "A sunset" }, {
 *   onQueueUpdate: (s) => s.status === "IN_QUEUE" && console.log(`${s.queuePosition} ahead`),
 * });
 * ```
 */
export async function subscribe<Output = unknown, Input = unknown>(
  baseUrl: string,
  appId: string,
  input: Input,
  options: SubscribeOptions = {},
): Promise<Output> {
  const mode = options.mode ?? "streaming";
  if (mode !== "streaming" && mode !== "polling") {
    throw new InvalidArgumentError(
      `Expected \`mode\` to be "streaming" or "polling", got ${JSON.stringify(mode)}`,
    );
  }
  const pollInterval = resolvePollInterval(options.pollInterval);
  const { signal } = options;
  const { requestId } = await submit(baseUrl, appId, input, options);
  try {
    options.onEnqueue?.(requestId);
    const update = (current: QueueStatus): void => options.onQueueUpdate?.(current);
    if (mode === "streaming") {
      for await (const current of statusStream(baseUrl, appId, requestId, options)) {
        update(current);
      }
    } else {
      for (;;) {
        const current = await status(baseUrl, appId, requestId, options);
        update(current);
        if (current.status === "COMPLETED") break;
        await sleep(pollInterval, signal);
      }
    }
    return await result<Output>(baseUrl, appId, requestId, options);
  } catch (error) {
    if (signal?.aborted) {
      // Best effort: the caller has stopped waiting, so nobody would read the result.
      cancel(baseUrl, appId, requestId, { ...options, signal: undefined }).catch(() => {});
      throw abortReason(signal);
    }
    throw error;
  }
}

/** Resolves after `ms`; rejects with the abort reason if `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
