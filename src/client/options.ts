import { InvalidArgumentError } from "../errors.ts";
import type { NonFatalStreamError } from "./errors.ts";

/** How a dropped stream is resumed. */
export interface ReconnectOptions {
  /** Reconnection attempts in a row before giving up with CONNECTION_FAILED. @default 5 */
  readonly attempts?: number;
  /** ms to wait before each attempt until the server's `retry:` field says otherwise. @default 1000 */
  readonly delay?: number;
}

/** Options both `stream()` and `run()` take. */
export interface RequestOptions<Input = unknown> {
  /** The JSON body of the request. @default {} */
  readonly input?: Input;
  /** Aborting it stops the request: the promise rejects with an AbortError and the server cancels. */
  readonly signal?: AbortSignal;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The server's API key, sent as `Authorization: Key <apiKey>` (as fal's clients send theirs) on
   * every request: the POST, each resume and the cancel. It replaces an `authorization` header
   * in `headers`.
   */
  readonly apiKey?: string;
  /** The `fetch` to use. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** Options of `stream()`. */
export interface StreamOptions<Input = unknown> extends RequestOptions<Input> {
  /** The streaming endpoint's path, appended to the base URL. @default "/stream" */
  readonly path?: string;
  /**
   * Fail with STREAM_IDLE (and cancel the request) when no byte, heartbeats included, arrives for
   * this many ms while the client waits for one. @default undefined (no limit)
   */
  readonly timeout?: number;
  /**
   * Resume a dropped stream with `Last-Event-ID`, or `false` to fail with CONNECTION_FAILED at
   * once. @default { attempts: 5, delay: 1000 }
   */
  readonly reconnect?: false | ReconnectOptions;
  /**
   * Receives the non-fatal `error` events (the request goes on) when the stream is read with
   * `for await`, which yields results only. `events()` yields them in place instead.
   */
  readonly onError?: (error: NonFatalStreamError) => void;
}

/** Options of `run()`. */
export interface RunOptions<Input = unknown> extends RequestOptions<Input> {
  /** The endpoint's path, appended to the base URL. @default "/" */
  readonly path?: string;
}

export interface ResolvedRequest {
  /** The base URL without trailing slashes. */
  readonly base: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
}

export interface ResolvedReconnect {
  readonly attempts: number;
  readonly delay: number;
}

/** Checks what `stream()` and `run()` share, naming the bad value. */
export function resolveRequest(url: string, options: RequestOptions): ResolvedRequest {
  if (typeof url !== "string" || !URL.canParse(url)) {
    throw new InvalidArgumentError(`Expected \`url\` to be an absolute URL, got ${show(url)}`);
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(options.input ?? {});
  } catch (error) {
    throw new InvalidArgumentError("Expected `input` to be JSON-serializable", { cause: error });
  }
  if (body === undefined) {
    throw new InvalidArgumentError(
      `Expected \`input\` to be JSON-serializable, got ${show(options.input)}`,
    );
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") {
    throw new InvalidArgumentError("No `fetch` available: pass one as the `fetch` option");
  }
  return {
    base: url.replace(/\/+$/, ""),
    body,
    headers: withApiKey(options.headers ?? {}, options.apiKey),
    fetch: fetchImpl,
  };
}

/** `headers` with `Authorization: Key <apiKey>` in place of any authorization header they have. */
function withApiKey(
  headers: Readonly<Record<string, string>>,
  apiKey: string | undefined,
): Readonly<Record<string, string>> {
  if (apiKey === undefined) return headers;
  // A key with a space or a control character would change the header's meaning, or be refused.
  if (typeof apiKey !== "string" || !/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new InvalidArgumentError(
      "Expected `apiKey` to be a non-empty string of printable ASCII without spaces",
    );
  }
  const rest = Object.fromEntries(
    Object.entries(headers).filter(([name]) => name.toLowerCase() !== "authorization"),
  );
  return { ...rest, authorization: `Key ${apiKey}` };
}

export function resolveTimeout(timeout: number | undefined): number | undefined {
  if (timeout === undefined) return undefined;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidArgumentError(
      `Expected \`timeout\` to be a positive number of ms, got ${show(timeout)}`,
    );
  }
  return timeout;
}

export function resolveReconnect(
  reconnect: false | ReconnectOptions | undefined,
): ResolvedReconnect | false {
  if (reconnect === false) return false;
  const attempts = reconnect?.attempts ?? 5;
  const delay = reconnect?.delay ?? 1000;
  if (!(Number.isInteger(attempts) && attempts >= 0)) {
    throw new InvalidArgumentError(
      `Expected \`reconnect.attempts\` to be a non-negative integer, got ${show(attempts)}`,
    );
  }
  if (!(Number.isFinite(delay) && delay >= 0)) {
    throw new InvalidArgumentError(
      `Expected \`reconnect.delay\` to be a non-negative number of ms, got ${show(delay)}`,
    );
  }
  return { attempts, delay };
}

export function resolvePath(path: string | undefined, fallback: string): string {
  const value = path ?? fallback;
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`Expected \`path\` to be a string, got ${show(value)}`);
  }
  return value;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null)
    return String(value);
  return typeof value;
}
