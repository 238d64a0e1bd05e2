/**
 * Errors of the HTTP layer. Each is a {@link TroupeError} with a stable `code` (of the one list,
 * `ErrorCode`) and the HTTP status it is answered with; the body is `{"error":<public error>}`
 * (docs/protocol.md, "Errors outside the stream").
 */
import { ErrorCode, TroupeError, type TroupeErrorOptions } from "../errors.ts";
import type { ValidationIssue } from "../events/public-error.ts";

export type { ValidationIssue };

/** A validation issue as the server finds it: `type` is the validator's code (`too_small`, …). */
export interface FoundIssue extends ValidationIssue {
  readonly type?: string;
}

/** One entry of FastAPI's (and so fal's) 422 body, `detail: [{loc, msg, type}]`. */
export interface FastApiIssue {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly type: string;
}

/** An error answered with an HTTP status and a JSON error body. */
export class HttpError extends TroupeError {
  override name = "HttpError";
  constructor(
    readonly status: number,
    code: string,
    message: string,
    options?: TroupeErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** 400: the body is not JSON. */
export class InvalidJsonError extends HttpError {
  override name = "InvalidJsonError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(400, ErrorCode.INVALID_JSON, message, options);
  }
}

/** 413: the body is larger than `bodyLimit`. */
export class BodyTooLargeError extends HttpError {
  override name = "BodyTooLargeError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(413, ErrorCode.BODY_TOO_LARGE, message, options);
  }
}

/** 415: the body is not `application/json`. */
export class UnsupportedMediaTypeError extends HttpError {
  override name = "UnsupportedMediaTypeError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, message, options);
  }
}

/** 404: no route has this path. */
export class NotFoundError extends HttpError {
  override name = "NotFoundError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(404, ErrorCode.NOT_FOUND, message, options);
  }
}

/** 405: the path exists, not with this method; `allow` lists the methods it has. */
export class MethodNotAllowedError extends HttpError {
  override name = "MethodNotAllowedError";
  constructor(
    message: string,
    readonly allow: readonly string[],
    options?: TroupeErrorOptions,
  ) {
    super(405, ErrorCode.METHOD_NOT_ALLOWED, message, options);
  }
}

/** 422: the body is JSON but does not match the endpoint's schema. */
export class ValidationError extends HttpError {
  override name = "ValidationError";
  readonly issues: readonly ValidationIssue[];
  /** The same issues in FastAPI's form, which fal's clients read (`ValidationError.fieldErrors`). */
  readonly detail: readonly FastApiIssue[];
  constructor(message: string, issues: readonly FoundIssue[], options?: TroupeErrorOptions) {
    const plain = issues.map(({ path, message }) => ({ path, message }));
    super(422, ErrorCode.VALIDATION_FAILED, message, { ...options, details: { issues: plain } });
    this.issues = plain;
    this.detail = issues.map((issue) => ({
      loc: [
        "body",
        ...issue.path
          .split(".")
          .filter((p) => p !== "")
          .map(segment),
      ],
      msg: issue.message,
      type: issue.type ?? "value_error",
    }));
  }
}

/** 400: the `troupe-dialect` header names no dialect. */
export class UnknownDialectError extends HttpError {
  override name = "UnknownDialectError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(400, ErrorCode.UNKNOWN_DIALECT, message, options);
  }
}

function segment(part: string): string | number {
  return /^\d+$/.test(part) ? Number(part) : part;
}

/** 503: the runner is not ready, or the server is shutting down. */
export class UnavailableError extends HttpError {
  override name = "UnavailableError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(503, ErrorCode.UNAVAILABLE, message, options);
  }
}

/** 404 on resume or cancel: the server never had a request with this id. */
export class RequestNotFoundError extends HttpError {
  override name = "RequestNotFoundError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(404, ErrorCode.REQUEST_NOT_FOUND, message, options);
  }
}

/** Ends the streams still open when the server shuts down (a fatal `error` event). */
export class ShuttingDownError extends TroupeError {
  override name = "ShuttingDownError";
  constructor(message = "The server is shutting down", options?: TroupeErrorOptions) {
    super(ErrorCode.SHUTTING_DOWN, message, options);
  }
}

/** A resumed stream's events are no longer buffered (a fatal `error` event, status 200). */
export class ReplayUnavailableError extends TroupeError {
  override name = "ReplayUnavailableError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.REPLAY_UNAVAILABLE, message, options);
  }
}

/** 400: the JSON body nests deeper than `maxBodyDepth` (objects and arrays). */
export class BodyTooDeepError extends HttpError {
  override name = "BodyTooDeepError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(400, ErrorCode.BODY_TOO_DEEP, message, options);
  }
}

/** 400: the request line, the URL or a header is malformed (Node's parser or the router refused it). */
export class BadRequestError extends HttpError {
  override name = "BadRequestError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(400, ErrorCode.BAD_REQUEST, message, options);
  }
}

/** 408: the request's headers and body did not arrive within `requestTimeout`. */
export class ReceiveTimeoutError extends HttpError {
  override name = "ReceiveTimeoutError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(408, ErrorCode.RECEIVE_TIMEOUT, message, options);
  }
}

/** 414: the URL, or one of its path parameters, is longer than the server accepts. */
export class UrlTooLongError extends HttpError {
  override name = "UrlTooLongError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(414, ErrorCode.URL_TOO_LONG, message, options);
  }
}

/** 431: the request's headers are larger than the server accepts. */
export class HeadersTooLargeError extends HttpError {
  override name = "HeadersTooLargeError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(431, ErrorCode.HEADERS_TOO_LARGE, message, options);
  }
}

/**
 * 403 on resume or cancel: the request is someone else's. Resuming a stream or cancelling a
 * request needs the `troupe-resume-token` its start answered with and, when API keys are set,
 * the same key; a request that has no token (it has not started streaming) is cancelled only by
 * its own connection closing.
 */
export class ForbiddenError extends HttpError {
  override name = "ForbiddenError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(403, ErrorCode.FORBIDDEN, message, options);
  }
}

/**
 * Fails a stream whose client read nothing for `slowReaderTimeout` while events waited for it:
 * the request is cancelled on every rank so the runner can serve the next one.
 */
export class SlowReaderError extends TroupeError {
  override name = "SlowReaderError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.SLOW_READER, message, options);
  }
}

/**
 * Told to a stream's reader (a non-fatal `error` event without an id) when its owner resumed the
 * stream on another connection: the request goes on there, and this reader's connection ends.
 */
export class ReaderReplacedError extends TroupeError {
  override name = "ReaderReplacedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.READER_REPLACED, message, options);
  }
}

/** 403: the `Host` header names a host this server does not answer for (DNS rebinding). */
export class HostNotAllowedError extends HttpError {
  override name = "HostNotAllowedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(403, ErrorCode.HOST_NOT_ALLOWED, message, options);
  }
}

/** 401: API keys are set and the request carries none that is valid. */
export class UnauthorizedError extends HttpError {
  override name = "UnauthorizedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(401, ErrorCode.UNAUTHORIZED, message, options);
  }
}
