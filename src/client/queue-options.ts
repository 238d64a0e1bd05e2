import { InvalidArgumentError } from "../errors.ts";
import { QUEUE_PATH } from "../events/sse-names.ts";
import type { StreamOptions } from "./options.ts";
import { resolveRequest } from "./options.ts";
import type { QueueStatus } from "./queue-status.ts";
import { endpointUrl } from "./wire.ts";

/** Options every queue call takes. */
export interface QueueCallOptions {
  /** Aborting it abandons the call with an AbortError; the queued request goes on (see `cancel()`). */
  readonly signal?: AbortSignal;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The server's API key, sent as `Authorization: Key <apiKey>`; it replaces an `authorization` header. */
  readonly apiKey?: string;
  /** The `fetch` to use. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** fal's queue priorities: every `normal` request is taken before any `low` one. */
export type QueuePriority = "normal" | "low";

/** Options of `submit()`. */
export interface SubmitOptions extends QueueCallOptions {
  /** The endpoint's path in the app. @default "/" */
  readonly path?: string;
  /** The request's priority (`x-fal-queue-priority`). @default "normal" */
  readonly priority?: QueuePriority;
  /**
   * Seconds after submission, waiting included, past which the request fails with
   * REQUEST_TIMEOUT (`x-fal-request-timeout`). @default undefined (no limit)
   */
  readonly timeout?: number;
  /** Where the server POSTs the request's outcome when it completes (`?fal_webhook=`). @default none */
  readonly webhookUrl?: string;
}

/** Options of `status()` and `statusStream()`. */
export interface StatusOptions extends QueueCallOptions {
  /** Include the request's logs (`?logs=1`). @default false */
  readonly logs?: boolean;
}

/** Options of `subscribe()`. */
export interface SubscribeOptions extends SubmitOptions {
  /**
   * How to wait for the request: `streaming` follows its status stream (one connection, each
   * change as it happens); `polling` asks for its status every `pollInterval` ms.
   * @default "streaming"
   */
  readonly mode?: "streaming" | "polling";
  /** ms between two status requests in `polling` mode. @default 500 */
  readonly pollInterval?: number;
  /** Ask for the request's logs with each status. @default false */
  readonly logs?: boolean;
  /** Called with the request's id once it is queued. */
  readonly onEnqueue?: (requestId: string) => void;
  /** Called with each status the client receives, the last one `COMPLETED`. */
  readonly onQueueUpdate?: (status: QueueStatus) => void;
}

/** Options of `streamQueued()`: those of `stream()` that apply to a request already queued. */
export interface StreamQueuedOptions
  extends Omit<StreamOptions, "input" | "path" | "signal" | "onError"> {
  /**
   * Aborting it stops reading: the iteration and `done()` reject with an AbortError. The request
   * goes on in the queue (see `cancel()`).
   */
  readonly signal?: AbortSignal;
  /** The id of the last event already seen: the stream starts after it. @default 0 (from the first) */
  readonly lastEventId?: number;
  /** Receives the non-fatal `error` events when the stream is read with `for await`. */
  readonly onError?: StreamOptions["onError"];
}

/** A queue call's checked arguments: the app's queue URL, the request headers and `fetch`. */
export interface ResolvedQueueCall {
  /** `<base>/queue/<appId>`. */
  readonly queue: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
}

/** fal's app ids, as the server checks them: `owner/alias`. */
const APP_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** Checks what every queue call shares, naming the bad value. */
export function resolveQueueCall(
  baseUrl: string,
  appId: string,
  options: QueueCallOptions,
): ResolvedQueueCall {
  const request = resolveRequest(baseUrl, options);
  if (typeof appId !== "string" || !APP_ID.test(appId)) {
    throw new InvalidArgumentError(
      `Expected \`appId\` to be "owner/alias" (as the server's appId option), got ${JSON.stringify(appId)}`,
    );
  }
  return {
    queue: `${request.base}${QUEUE_PATH}/${appId}`,
    headers: request.headers,
    fetch: request.fetch,
  };
}

/** `<queue>/requests/<id><suffix>`: a queued request's status, result, cancel and events. */
export function queuedRequestUrl(queue: string, requestId: string, suffix = ""): string {
  if (typeof requestId !== "string" || requestId === "") {
    throw new InvalidArgumentError(
      `Expected \`requestId\` to be a request's id, got ${JSON.stringify(requestId)}`,
    );
  }
  return `${queue}/requests/${encodeURIComponent(requestId)}${suffix}`;
}

/** Where `submit()` POSTs: the app's queue URL with the endpoint's path (none for `/`). */
export function submitUrl(queue: string, path: string | undefined): string {
  const value = path ?? "/";
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`Expected \`path\` to be a string, got ${typeof value}`);
  }
  return value === "/" || value === "" ? queue : endpointUrl(queue, value);
}

/** `x-fal-request-timeout`'s seconds, checked. */
export function resolveSubmitTimeout(timeout: number | undefined): string | undefined {
  if (timeout === undefined) return undefined;
  if (!(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidArgumentError(
      `Expected \`timeout\` to be a positive number of seconds, got ${String(timeout)}`,
    );
  }
  return String(timeout);
}

export function resolvePriority(priority: QueuePriority | undefined): QueuePriority | undefined {
  if (priority === undefined || priority === "normal" || priority === "low") return priority;
  throw new InvalidArgumentError(
    `Expected \`priority\` to be "normal" or "low", got ${JSON.stringify(priority)}`,
  );
}

export function resolveWebhookUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (
    typeof url !== "string" ||
    !/^https?:$/.test(URL.canParse(url) ? new URL(url).protocol : "")
  ) {
    throw new InvalidArgumentError(
      `Expected \`webhookUrl\` to be an http(s) URL, got ${JSON.stringify(url)}`,
    );
  }
  return url;
}

export function resolvePollInterval(ms: number | undefined): number {
  const value = ms ?? 500;
  if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
    throw new InvalidArgumentError(
      `Expected \`pollInterval\` to be a non-negative number of ms, got ${String(value)}`,
    );
  }
  return value;
}

export function resolveLastEventId(id: number | undefined): number {
  const value = id ?? 0;
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new InvalidArgumentError(
      `Expected \`lastEventId\` to be an event id (a non-negative integer), got ${String(value)}`,
    );
  }
  return value;
}
