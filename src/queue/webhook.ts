/**
 * A queued request's webhook, as fal sends it: when the request completes, its outcome is POSTed
 * to the `fal_webhook` URL it was submitted with, signed (verify-webhook.ts says how), and tried
 * again with backoff while the receiver is down or busy, for a bounded number of attempts and
 * time (docs/webhooks.md).
 */
import { abortReason, InvalidArgumentError } from "../errors.ts";
import type { Logger } from "../runner/logger.ts";
import { show } from "../runner/options.ts";
import type { Outcome, QueueEntry } from "./queue-store.ts";
import { WebhookHeader, webhookMessage } from "./verify-webhook.ts";
import type { WebhookSigner } from "./webhook-signer.ts";

/** How a webhook is retried. */
export interface WebhookRetryOptions {
  /** Deliveries tried at most, counting the first (fal: 10). @default 10 */
  readonly attempts?: number;
  /**
   * Milliseconds after the first attempt past which no attempt starts (fal: 2 hours).
   * @default 7200000
   */
  readonly totalTime?: number;
  /** Milliseconds before the second attempt; each later wait doubles, with jitter. @default 10000 */
  readonly initialDelay?: number;
  /** The longest wait between two attempts, in ms. @default 1800000 */
  readonly maxDelay?: number;
  /** Milliseconds one attempt may take before it counts as failed. @default 10000 */
  readonly attemptTimeout?: number;
}

/** What {@link deliverWebhook} needs besides the request. */
export interface DeliverWebhookOptions extends WebhookRetryOptions {
  readonly signer: WebhookSigner;
  /** Stops retrying (the server shuts down): the delivery rejects with its reason. */
  readonly signal?: AbortSignal;
  /** Where each failed attempt and a give-up are logged. */
  readonly logger?: Logger;
  /** The clock, in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Waits `ms` between attempts, rejecting when `signal` aborts. @default a timer */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** A number in [0, 1) for the jitter. @default Math.random */
  readonly random?: () => number;
  /**
   * The signal that ends one attempt after `ms` (aborting with a `TimeoutError`).
   * @default AbortSignal.timeout
   */
  readonly attemptSignal?: (ms: number) => AbortSignal;
}

/** How a delivery ended. */
export interface WebhookResult {
  /** `true` when the receiver answered 2xx. */
  readonly delivered: boolean;
  /** Attempts made (0 when the request had no webhook). */
  readonly attempts: number;
  /** The last answer's HTTP status, when one came. */
  readonly status?: number;
}

const DEFAULTS: Required<WebhookRetryOptions> = {
  attempts: 10,
  totalTime: 2 * 60 * 60 * 1000,
  initialDelay: 10_000,
  maxDelay: 30 * 60 * 1000,
  attemptTimeout: 10_000,
};

/** The retry options with their defaults, refused where one is not a positive number. */
export function webhookRetryOptions(
  options: WebhookRetryOptions = {},
): Required<WebhookRetryOptions> {
  const out = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof WebhookRetryOptions)[]) {
    const value = options[name];
    if (value === undefined) continue;
    const ok =
      typeof value === "number" &&
      value > 0 &&
      (name === "attempts" ? Number.isInteger(value) : Number.isFinite(value));
    if (!ok) {
      const kind = name === "attempts" ? "a positive integer" : "a positive number of ms";
      throw new InvalidArgumentError(`Expected \`${name}\` to be ${kind}, got ${show(value)}`);
    }
    out[name] = value;
  }
  return out;
}

/** Who a webhook says submitted its request: the key's fingerprint, or `anonymous` without keys. */
export function webhookUserId(entry: QueueEntry): string {
  return entry.owner ?? "anonymous";
}

/**
 * A webhook's body as fal writes it: `status` `OK` with the output as `payload`, or `ERROR` with
 * the error's message as `error` and the body `GET .../requests/{id}` answers as `payload`. An
 * output that is not JSON (it always is) goes as `payload: null` with a `payload_error`.
 * `gateway_request_id` is `request_id`: a request keeps its id over every attempt.
 */
export function webhookBody(requestId: string, outcome: Outcome): string {
  const ids = { request_id: requestId, gateway_request_id: requestId };
  if (!outcome.ok) {
    const { error } = outcome;
    return JSON.stringify({
      ...ids,
      status: "ERROR",
      payload: { error, detail: error.message },
      error: error.message,
    });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(outcome.output);
  } catch {
    return JSON.stringify({
      ...ids,
      status: "OK",
      payload: null,
      error: null,
      payload_error: "The output is not valid JSON",
    });
  }
  return JSON.stringify({ ...ids, status: "OK", payload, error: null });
}

/**
 * POSTs a completed request's webhook to its `webhookUrl`, signed anew on each attempt (a fresh
 * timestamp, so a late retry is still inside the receiver's window). A 2xx answer delivers it; a
 * 5xx, 408, 429, network error or timeout is tried again after an exponential, jittered wait (a
 * longer `Retry-After` is honoured) until `attempts` or `totalTime` runs out; any other answer
 * gives up at once (redirects are not followed). Failures are logged, never thrown: the promise
 * resolves with how it ended, and rejects only when `signal` aborts.
 *
 * @example
 * onComplete: (entry, outcome) =>
 *   void deliverWebhook(entry, outcome, { signer, signal, logger }).catch(() => {}),
 */
export async function deliverWebhook(
  entry: QueueEntry,
  outcome: Outcome,
  options: DeliverWebhookOptions,
): Promise<WebhookResult> {
  const url = entry.webhookUrl;
  if (url === undefined) return { delivered: false, attempts: 0 };
  const retry = webhookRetryOptions(options);
  const signal = options.signal ?? new AbortController().signal;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepFor;
  const random = options.random ?? Math.random;
  const log = options.logger;
  signal.throwIfAborted();
  const attempt: Attempt = {
    url,
    body: webhookBody(entry.id, outcome),
    requestId: entry.id,
    userId: webhookUserId(entry),
    signer: options.signer,
    timeout: retry.attemptTimeout,
    timeoutSignal: options.attemptSignal ?? AbortSignal.timeout,
    signal,
    now,
  };
  const where = { requestId: entry.id, webhook: redacted(url) };
  const started = now();
  let status: number | undefined;
  for (let n = 1; ; n++) {
    const answer = await post(attempt);
    status = answer.status ?? status;
    if (answer.status !== undefined && answer.status >= 200 && answer.status < 300) {
      log?.info({ ...where, attempt: n, status: answer.status }, "Webhook delivered");
      return { delivered: true, attempts: n, status: answer.status };
    }
    const failure = { ...where, attempt: n, ...answer.failure };
    const result = { delivered: false, attempts: n, ...(status === undefined ? {} : { status }) };
    if (!answer.retryable) {
      log?.error(failure, "Webhook refused by its receiver; not retried");
      return result;
    }
    const backoff = Math.min(retry.maxDelay, retry.initialDelay * 2 ** (n - 1));
    // Equal jitter: half the wait is fixed, half random, so retries of many requests spread out.
    const wait = Math.max(backoff / 2 + (backoff / 2) * random(), answer.retryAfter ?? 0);
    if (n >= retry.attempts || now() - started + wait > retry.totalTime) {
      log?.error(
        { ...failure, elapsed: now() - started },
        `Webhook not delivered after ${n} attempt${n === 1 ? "" : "s"}; giving up`,
      );
      return result;
    }
    log?.warn({ ...failure, retryIn: Math.round(wait) }, "Webhook delivery failed; retrying");
    await sleep(wait, signal);
  }
}

/** What each attempt sends, and how. */
interface Attempt {
  readonly url: string;
  readonly body: string;
  readonly requestId: string;
  readonly userId: string;
  readonly signer: WebhookSigner;
  readonly timeout: number;
  readonly timeoutSignal: (ms: number) => AbortSignal;
  readonly signal: AbortSignal;
  readonly now: () => number;
}

/** One attempt's answer: its status, or why there was none, and whether to try again. */
interface Answer {
  readonly status?: number;
  readonly retryable: boolean;
  /** What the receiver asked for with `Retry-After`, in ms. */
  readonly retryAfter?: number;
  /** What the log says of a failure: the status, or the network error's code. */
  readonly failure: Readonly<Record<string, unknown>>;
}

async function post(attempt: Attempt): Promise<Answer> {
  const { url, body, requestId, userId, timeout, timeoutSignal, signal, now } = attempt;
  const timestamp = String(Math.floor(now() / 1000));
  const signature = attempt.signer.sign(webhookMessage(requestId, userId, timestamp, body));
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "troupe-webhook",
        [WebhookHeader.requestId]: requestId,
        [WebhookHeader.userId]: userId,
        [WebhookHeader.timestamp]: timestamp,
        [WebhookHeader.signature]: signature,
      },
      body,
      redirect: "manual",
      signal: AbortSignal.any([signal, timeoutSignal(timeout)]),
    });
  } catch (error) {
    if (signal.aborted) throw abortReason(signal);
    return { retryable: true, failure: { error: networkError(error, timeout) } };
  }
  // Only the status matters: drop the body so the connection can be reused.
  await response.body?.cancel().catch(() => {});
  const { status } = response;
  const retryable = status >= 500 || status === 408 || status === 429;
  const retryAfter = retryable ? retryAfterMs(response.headers.get("retry-after"), now) : undefined;
  return {
    status,
    retryable,
    ...(retryAfter === undefined ? {} : { retryAfter }),
    failure: { status },
  };
}

/** `Retry-After` (seconds, or an HTTP date) in ms from now; `undefined` if absent or unreadable. */
function retryAfterMs(value: string | null, now: () => number): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

/** A failed fetch in a word for the log: the system error's code, or that it timed out. */
function networkError(error: unknown, timeout: number): string {
  if (error instanceof Error && error.name === "TimeoutError") {
    return `no answer within ${timeout / 1000} s`;
  }
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/** The URL as the log shows it: without its query (webhook URLs often carry a token there). */
function redacted(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** Resolves after `ms`, or rejects with `signal`'s reason when it aborts first. */
function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
