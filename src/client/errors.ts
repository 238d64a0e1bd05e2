/**
 * What the client throws. Every class extends {@link TroupeError} (stable `code`, `rank`, `cause`)
 * and adds what the server said about the request: the HTTP `status`, the `requestId` and, for a
 * failed validation, the `issues`. Codes are those of the one list, `ErrorCode`: the server's as it
 * sent them, and the client's own (STREAM_IDLE, CONNECTION_FAILED, PROTOCOL_ERROR, HTTP_ERROR).
 * `../errors.ts` has no Node imports, so it is safe in a browser.
 */
import { ErrorCode, TroupeError, type TroupeErrorOptions } from "../errors.ts";
import type { ValidationIssue } from "../events/public-error.ts";

export type { ValidationIssue };

export interface RequestErrorOptions extends TroupeErrorOptions {
  /** The HTTP status of the answer the error came with. */
  readonly status?: number;
  /** The request's id (`x-request-id`), when the server assigned one. */
  readonly requestId?: string;
  /** What failed validation (422). */
  readonly issues?: readonly ValidationIssue[];
  /** The error's class name on the server (`WorkerCallError`, …). */
  readonly remoteName?: string;
}

/** Base class of every error about a request: the server's answer or the connection to it. */
export class RequestError extends TroupeError {
  override name = "RequestError";
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly issues: readonly ValidationIssue[] | undefined;
  readonly remoteName: string | undefined;

  constructor(code: string, message: string, options: RequestErrorOptions = {}) {
    super(code, message, options);
    this.status = options.status;
    this.requestId = options.requestId;
    this.issues = options.issues;
    this.remoteName = options.remoteName;
  }
}

/** The server answered with a non-2xx status; `code` is the body's `error.code`. */
export class HttpError extends RequestError {
  override name = "HttpError";
}

/** A fatal `error` event: the request failed on the server; `code` is the server's. */
export class RequestFailedError extends RequestError {
  override name = "RequestFailedError";
}

/** The server can no longer replay the events the client missed, so the stream cannot resume. */
export class ReplayUnavailableError extends RequestFailedError {
  override name = "ReplayUnavailableError";
}

/**
 * A non-fatal `error` event (`addStreamingError` on the server): the request goes on. Never
 * thrown; `events()` yields it and the plain iteration hands it to the `onError` option.
 */
export class NonFatalStreamError extends RequestError {
  override name = "NonFatalStreamError";
}

/** No byte arrived for the stream's `timeout` ms; the request is cancelled on the server. */
export class IdleTimeoutError extends RequestError {
  override name = "IdleTimeoutError";
  constructor(message: string, options?: RequestErrorOptions) {
    super(ErrorCode.STREAM_IDLE, message, options);
  }
}

/** The server was unreachable, or the stream broke and could not be resumed. */
export class ConnectionError extends RequestError {
  override name = "ConnectionError";
  constructor(message: string, options?: RequestErrorOptions) {
    super(ErrorCode.CONNECTION_FAILED, message, options);
  }
}

/** The server's answer does not follow the protocol. */
export class UnexpectedResponseError extends RequestError {
  override name = "UnexpectedResponseError";
  constructor(message: string, options?: RequestErrorOptions) {
    super(ErrorCode.PROTOCOL_ERROR, message, options);
  }
}

/**
 * The request's owner resumed it on another connection (another tab, or this process after a
 * half-open connection): this reader stops, and the request goes on for the other one. Not
 * retried, and nothing is cancelled on the server.
 */
export class ReaderReplacedError extends RequestError {
  override name = "ReaderReplacedError";
  constructor(message: string, options?: RequestErrorOptions) {
    super(ErrorCode.READER_REPLACED, message, options);
  }
}
