import { InvalidArgumentError } from "../errors.ts";
import { QueueHeader } from "../events/sse-names.ts";
import { jsonBody, queueFetch, queueHttpError } from "./queue-fetch.ts";
import {
  resolvePriority,
  resolveQueueCall,
  resolveSubmitTimeout,
  resolveWebhookUrl,
  type SubmitOptions,
  submitUrl,
} from "./queue-options.ts";
import { type QueueSubmission, readSubmission } from "./queue-status.ts";

/**
 * Puts a request in the app's queue and resolves as soon as it is recorded, with its id, its
 * place in the queue and its URLs (fal's `queue.submit`): `POST <baseUrl>/queue/<appId><path>`.
 * The server checks `input` against the endpoint's schema first (422 as an `HttpError` with
 * `issues`). Follow it with `statusStream()`, `streamQueued()` or `subscribe()`, or come back for
 * `result()`; any replica of the app answers for it.
 *
 * @example
 * ```ts
 * const { requestId, queuePosition } = await submit(url, "local/my-app", { prompt: "A sunset" });
 * ```
 */
export async function submit<Input = unknown>(
  baseUrl: string,
  appId: string,
  input: Input,
  options: SubmitOptions = {},
): Promise<QueueSubmission> {
  const call = resolveQueueCall(baseUrl, appId, options);
  const url = new URL(submitUrl(call.queue, options.path));
  const webhookUrl = resolveWebhookUrl(options.webhookUrl);
  if (webhookUrl !== undefined) url.searchParams.set("fal_webhook", webhookUrl);
  const priority = resolvePriority(options.priority);
  const timeout = resolveSubmitTimeout(options.timeout);
  const body = JSON.stringify(input ?? {});
  if (body === undefined) {
    throw new InvalidArgumentError(
      `Expected \`input\` to be JSON-serializable, got ${typeof input}`,
    );
  }
  return await queueFetch(
    call,
    {
      method: "POST",
      url: url.href,
      headers: {
        ...(priority === undefined ? {} : { [QueueHeader.priority]: priority }),
        ...(timeout === undefined ? {} : { [QueueHeader.timeout]: timeout }),
      },
      body,
    },
    options,
    async (response) => {
      if (!response.ok) throw await queueHttpError(response);
      return readSubmission(await jsonBody(response));
    },
  );
}
