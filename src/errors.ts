/**
 * Every failure troupe reports is a {@link TroupeError} with a stable string `code`, the rank it
 * concerns where there is one, and the original error in `cause`. Errors cross process
 * boundaries as {@link SerializedError} objects and are rebuilt as the same class on the other
 * side, so `instanceof` and `code` checks work wherever the error surfaces.
 */

/** Stable error codes. Match on these, never on messages. */
export const ErrorCode = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  INVALID_WORKER: "INVALID_WORKER",
  INVALID_PAYLOAD: "INVALID_PAYLOAD",
  NOT_STARTED: "NOT_STARTED",
  ALREADY_STARTED: "ALREADY_STARTED",
  RUNNER_STOPPED: "RUNNER_STOPPED",
  START_TIMEOUT: "START_TIMEOUT",
  SETUP_FAILED: "SETUP_FAILED",
  CALL_FAILED: "CALL_FAILED",
  WORKER_EXITED: "WORKER_EXITED",
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  STREAM_IDLE: "STREAM_IDLE",
  STREAM_OVERFLOW: "STREAM_OVERFLOW",
  GROUP_UNAVAILABLE: "GROUP_UNAVAILABLE",
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
  WORKER_ERROR: "WORKER_ERROR",
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

/** Base class of every error troupe throws. */
export class TroupeError extends Error {
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
