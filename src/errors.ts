/**
 * Every failure troupe reports is a {@link TroupeError} with a stable string `code`, the rank it
 * concerns where there is one, and the original error in `cause`. Errors cross process
 * boundaries as {@link SerializedError} objects and are rebuilt as the same class on the other
 * side, so `code` checks work wherever the error surfaces; `TroupeError.isInstance` recognises
 * one made by another copy of troupe. No Node-only imports: the client uses this file in browsers.
 */
import { hasMarker } from "./internal/marker.ts";

/**
 * Every code a troupe error can carry, in one list: the runner's, the process group's, the HTTP
 * layer's and the client's. Match on these, never on messages.
 */
export const ErrorCode = {
  // The runner and its ranks.
  /** An option or argument given to troupe's API is not valid. */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  /** The worker module is missing, fails to load, or exports no worker class. */
  INVALID_WORKER: "INVALID_WORKER",
  /** A payload or result holds a value that cannot cross a process boundary. */
  INVALID_PAYLOAD: "INVALID_PAYLOAD",
  /** The runner was used before `start()`. */
  NOT_STARTED: "NOT_STARTED",
  /** `start()` was called twice. */
  ALREADY_STARTED: "ALREADY_STARTED",
  /** The runner was stopped. */
  RUNNER_STOPPED: "RUNNER_STOPPED",
  /** Not every rank became ready within `start()`'s timeout. */
  START_TIMEOUT: "START_TIMEOUT",
  /** A rank's `setup()` threw. */
  SETUP_FAILED: "SETUP_FAILED",
  /** A rank's `call()` threw. */
  CALL_FAILED: "CALL_FAILED",
  /** A rank process exited while the runner needed it. */
  WORKER_EXITED: "WORKER_EXITED",
  /** A request ran past its `timeout`. */
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  /** A stream was idle past its `streamingTimeout` (runner), or no byte arrived for `timeout` (client). */
  STREAM_IDLE: "STREAM_IDLE",
  /** A worker queued more unsent results than its limit allows. */
  STREAM_OVERFLOW: "STREAM_OVERFLOW",
  /** The group of ranks is down and could not be (re)started. */
  GROUP_UNAVAILABLE: "GROUP_UNAVAILABLE",
  /** A message between processes, or a server's answer to the client, broke the protocol. */
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
  /** A non-fatal error a worker streamed with `addStreamingError`. */
  WORKER_ERROR: "WORKER_ERROR",
  // The process group (collectives).
  /** A collective did not complete within its timeout. */
  COLLECTIVE_TIMEOUT: "COLLECTIVE_TIMEOUT",
  /** Ranks called different collectives at the same point, or the same one differently. */
  COLLECTIVE_MISMATCH: "COLLECTIVE_MISMATCH",
  /** A collective was cancelled. */
  COLLECTIVE_ABORTED: "COLLECTIVE_ABORTED",
  /** A rank of the group exited or left it. */
  PEER_EXITED: "PEER_EXITED",
  /** The rendezvous key-value store failed. */
  STORE_ERROR: "STORE_ERROR",
  /** The ranks could not connect to each other while creating the group. */
  RENDEZVOUS_FAILED: "RENDEZVOUS_FAILED",
  /** The process group was destroyed. */
  GROUP_DESTROYED: "GROUP_DESTROYED",
  // The HTTP layer (troupe/app).
  /** 400: the body is not JSON. */
  INVALID_JSON: "INVALID_JSON",
  /** 400: the `troupe-dialect` header names no dialect. */
  UNKNOWN_DIALECT: "UNKNOWN_DIALECT",
  /** 413: the body is larger than `bodyLimit`. */
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  /** 415: the body is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  /** 404: no route has this path. */
  NOT_FOUND: "NOT_FOUND",
  /** 405: the path exists, not with this method. */
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  /** 422: the body does not match the endpoint's schema. */
  VALIDATION_FAILED: "VALIDATION_FAILED",
  /** 503: the runner is not ready, or the server is shutting down. */
  UNAVAILABLE: "UNAVAILABLE",
  /** 400: the body nests deeper than `maxBodyDepth`. */
  BODY_TOO_DEEP: "BODY_TOO_DEEP",
  /** 400: the request line or a header is malformed (Node's HTTP parser refused it). */
  BAD_REQUEST: "BAD_REQUEST",
  /** 408: the request's headers and body did not arrive within `requestTimeout`. */
  RECEIVE_TIMEOUT: "RECEIVE_TIMEOUT",
  /** 414: the URL is longer than the server accepts. */
  URL_TOO_LONG: "URL_TOO_LONG",
  /** 431: the request's headers are larger than the server accepts. */
  HEADERS_TOO_LARGE: "HEADERS_TOO_LARGE",
  /** 401: API keys are set and the request carries none that is valid. */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** 403: the request is not its owner's (resume or cancel without its token or key). */
  FORBIDDEN: "FORBIDDEN",
  /** 403: the `Host` header names a host this server does not answer for (DNS rebinding). */
  HOST_NOT_ALLOWED: "HOST_NOT_ALLOWED",
  /** A streaming client read nothing for `slowReaderTimeout`: its request was cancelled. */
  SLOW_READER: "SLOW_READER",
  /** A stream's reader was replaced: the request's owner resumed it on another connection. */
  READER_REPLACED: "READER_REPLACED",
  /** 500: a failure that is not one of troupe's own. */
  INTERNAL: "INTERNAL",
  /** The request was cancelled (its signal aborted, or the client went away). */
  ABORTED: "ABORTED",
  /** 404 on resume or cancel: the server never had a request with this id. */
  REQUEST_NOT_FOUND: "REQUEST_NOT_FOUND",
  /** A stream still open when the server shut down. */
  SHUTTING_DOWN: "SHUTTING_DOWN",
  /** The events after `Last-Event-ID` are no longer kept, or the request is unknown. */
  REPLAY_UNAVAILABLE: "REPLAY_UNAVAILABLE",
  // The queue (src/queue).
  /** 503: the queue's store (Redis) cannot be reached, so a new request could not be recorded. */
  QUEUE_UNAVAILABLE: "QUEUE_UNAVAILABLE",
  /** A queued request's replica died on each of its allowed attempts. */
  ATTEMPTS_EXHAUSTED: "ATTEMPTS_EXHAUSTED",
  /** This replica lost a request's lease (another took it over): it stops running it. */
  LEASE_LOST: "LEASE_LOST",
  /** 400: a queued request's `fal_webhook` is not an http(s) URL without credentials. */
  INVALID_WEBHOOK_URL: "INVALID_WEBHOOK_URL",
  // The client (troupe/client).
  /** The server could not be reached, or the connection dropped and could not be resumed. */
  CONNECTION_FAILED: "CONNECTION_FAILED",
  /** A non-2xx answer whose body names no code. */
  HTTP_ERROR: "HTTP_ERROR",
  /** A fatal `error` event whose body names no code. */
  REQUEST_FAILED: "REQUEST_FAILED",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The wire form of an error: plain data, safe to encode and send between processes. */
export interface SerializedError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly stack?: string;
  readonly rank?: number;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: SerializedError;
}

export interface TroupeErrorOptions {
  /** The rank the failure concerns, when it concerns one. */
  readonly rank?: number;
  /** The original error. */
  readonly cause?: unknown;
  /** Extra structured facts (exit code, timeout, ranks that did not answer, …). */
  readonly details?: Readonly<Record<string, unknown>>;
}

const TROUPE_ERROR_MARKER = Symbol.for("troupe.TroupeError");

/** Base class of every error troupe throws. */
export class TroupeError extends Error {
  /**
   * `true` for an error of this class made by any copy of troupe (where `instanceof` would say
   * no). On a subclass it also checks the class (by `instanceof`, else by name).
   */
  static isInstance<T extends TroupeError>(
    this: abstract new (
      ...args: never[]
    ) => T,
    value: unknown,
  ): value is T {
    if (!hasMarker(value, TROUPE_ERROR_MARKER)) return false;
    // `this` is the class it is called on (not TroupeError): a subclass checks its own class too.
    // biome-ignore lint/complexity/noThisInStatic: the class it is called on is the point
    if ((this as unknown) === TroupeError) return true;
    // biome-ignore lint/complexity/noThisInStatic: as above
    return value instanceof this || (value as Error).name === this.name;
  }

  readonly [TROUPE_ERROR_MARKER] = true;
  override name = "TroupeError";
  readonly code: string;
  readonly rank: number | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: TroupeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.rank = options.rank;
    this.details = options.details ?? {};
  }

  /** Plain-data form, used by `JSON.stringify` and by the wire protocol. */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** An option or argument given to troupe's API is not valid. */
export class InvalidArgumentError extends TroupeError {
  override name = "InvalidArgumentError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.INVALID_ARGUMENT, message, options);
  }
}

/** The worker module does not exist, fails to load, or has no worker class as default export. */
export class InvalidWorkerError extends TroupeError {
  override name = "InvalidWorkerError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.INVALID_WORKER, message, options);
  }
}

/** A payload or result holds a value that cannot cross a process boundary. */
export class InvalidPayloadError extends TroupeError {
  override name = "InvalidPayloadError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.INVALID_PAYLOAD, message, options);
  }
}

/** The runner is not in a state that allows the operation (not started, started twice, stopped). */
export class RunnerStateError extends TroupeError {
  override name = "RunnerStateError";
  constructor(
    code:
      | typeof ErrorCode.NOT_STARTED
      | typeof ErrorCode.ALREADY_STARTED
      | typeof ErrorCode.RUNNER_STOPPED,
    message: string,
    options?: TroupeErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** Not every rank became ready within `start()`'s timeout. */
export class StartTimeoutError extends TroupeError {
  override name = "StartTimeoutError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.START_TIMEOUT, message, options);
  }
}

/** A rank's `setup()` threw. */
export class SetupError extends TroupeError {
  override name = "SetupError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.SETUP_FAILED, message, options);
  }
}

/** A rank's `call()` threw, or the worker reported an error with `addStreamingError`. */
export class WorkerCallError extends TroupeError {
  override name = "WorkerCallError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.CALL_FAILED, message, options);
  }
}

/** A rank process exited while the runner needed it. `details` holds `exitCode` and `signal`. */
export class WorkerExitedError extends TroupeError {
  override name = "WorkerExitedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.WORKER_EXITED, message, options);
  }
}

/** A request ran past its `timeout`. */
export class RequestTimeoutError extends TroupeError {
  override name = "RequestTimeoutError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.REQUEST_TIMEOUT, message, options);
  }
}

/** A stream produced no event for longer than its `streamingTimeout`. */
export class StreamIdleError extends TroupeError {
  override name = "StreamIdleError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.STREAM_IDLE, message, options);
  }
}

/** A worker queued more unsent results than its limit allows (the consumer is not reading). */
export class StreamOverflowError extends TroupeError {
  override name = "StreamOverflowError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.STREAM_OVERFLOW, message, options);
  }
}

/**
 * A non-fatal error a worker streamed with `addStreamingError`: the request goes on. Object-mode
 * streams yield it in place (check with `instanceof`); it is never thrown.
 */
export class StreamedError extends TroupeError {
  override name = "StreamedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.WORKER_ERROR, message, options);
  }
}

/** The group of ranks is down and could not be (re)started. */
export class GroupUnavailableError extends TroupeError {
  override name = "GroupUnavailableError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.GROUP_UNAVAILABLE, message, options);
  }
}

/** A message between the runner and a rank was malformed, unknown or stale. */
export class ProtocolError extends TroupeError {
  override name = "ProtocolError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.PROTOCOL_ERROR, message, options);
  }
}

/**
 * An error thrown by user code inside a rank, rebuilt on the runner's side: it keeps the remote
 * `name`, `message` and `stack` so the cause of a {@link WorkerCallError} reads as it did in the rank.
 */
export class RemoteError extends Error {
  override name: string;
  readonly code: string | undefined;
  constructor(serialized: SerializedError) {
    super(serialized.message);
    this.name = serialized.name;
    this.code = serialized.code;
    if (serialized.stack !== undefined) this.stack = serialized.stack;
  }
}

const constructors: Record<
  string,
  new (
    message: string,
    options?: TroupeErrorOptions,
  ) => TroupeError
> = {
  InvalidArgumentError,
  InvalidWorkerError,
  InvalidPayloadError,
  StartTimeoutError,
  SetupError,
  WorkerCallError,
  WorkerExitedError,
  RequestTimeoutError,
  StreamIdleError,
  StreamOverflowError,
  StreamedError,
  GroupUnavailableError,
  ProtocolError,
};

/**
 * Makes `deserializeError` rebuild errors named `Ctor.name` as `Ctor`, so an error class defined
 * outside this file (the process group's, say) keeps its class, rank and details across processes.
 */
export function registerErrorClass(
  name: string,
  Ctor: new (message: string, options?: TroupeErrorOptions) => TroupeError,
): void {
  constructors[name] = Ctor;
}

const MAX_CAUSE_DEPTH = 8;

/** Turns any thrown value into plain data, keeping the cause chain (to a bounded depth). */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const rank = (error as { rank?: unknown }).rank;
    const details = (error as { details?: unknown }).details;
    const out: {
      name: string;
      message: string;
      code?: string;
      stack?: string;
      rank?: number;
      details?: Record<string, unknown>;
      cause?: SerializedError;
    } = { name: error.name, message: error.message };
    if (typeof code === "string") out.code = code;
    if (typeof error.stack === "string") out.stack = error.stack;
    if (typeof rank === "number") out.rank = rank;
    if (details !== null && typeof details === "object" && Object.keys(details).length > 0) {
      out.details = plainDetails(details as Record<string, unknown>);
    }
    if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
      out.cause = serializeError(error.cause, depth + 1);
    }
    return out;
  }
  return { name: "Error", message: describeThrown(error) };
}

/** Rebuilds an error from its wire form: troupe's own classes come back as themselves. */
export function deserializeError(serialized: SerializedError): Error {
  const cause = serialized.cause === undefined ? undefined : deserializeError(serialized.cause);
  const Ctor = constructors[serialized.name];
  if (Ctor !== undefined && serialized.code !== undefined) {
    const options: TroupeErrorOptions = {
      ...(serialized.rank === undefined ? {} : { rank: serialized.rank }),
      ...(cause === undefined ? {} : { cause }),
      ...(serialized.details === undefined ? {} : { details: serialized.details }),
    };
    const error = new Ctor(serialized.message, options);
    if (serialized.stack !== undefined) error.stack = serialized.stack;
    return error;
  }
  if (
    (serialized.name === "TroupeError" || serialized.name === "RunnerStateError") &&
    serialized.code !== undefined
  ) {
    const options: TroupeErrorOptions = {
      ...(serialized.rank === undefined ? {} : { rank: serialized.rank }),
      ...(cause === undefined ? {} : { cause }),
      ...(serialized.details === undefined ? {} : { details: serialized.details }),
    };
    const error =
      serialized.name === "RunnerStateError"
        ? new RunnerStateError(
            serialized.code as typeof ErrorCode.NOT_STARTED,
            serialized.message,
            options,
          )
        : new TroupeError(serialized.code, serialized.message, options);
    if (serialized.stack !== undefined) error.stack = serialized.stack;
    return error;
  }
  const remote = new RemoteError(serialized);
  if (cause !== undefined) Object.defineProperty(remote, "cause", { value: cause });
  return remote;
}

/** `true` for the error an aborted signal rejects with (a DOMException named AbortError). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

/** The error to reject with when `signal` aborted: its reason if that is an Error, else an AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(
    reason === undefined ? "This operation was aborted" : String(reason),
    "AbortError",
  );
}

function describeThrown(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function plainDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (
      value === null ||
      typeof value === "string" ||
      typeof value === "number" ||
      typeof value === "boolean"
    ) {
      out[key] = value;
    } else if (value === undefined) {
      // Absent, as JSON would have it.
    } else {
      try {
        out[key] = JSON.parse(JSON.stringify(value)) as unknown;
      } catch {
        out[key] = String(value);
      }
    }
  }
  return out;
}
