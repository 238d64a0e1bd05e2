/**
 * Errors of the HTTP layer. Each is a {@link TroupeError} with a stable `code` and the HTTP
 * status it is answered with; the body is `{"error":{"code","message","requestId","issues"?}}`
 * (docs/protocol.md, "Errors outside the stream").
 */
import { TroupeError, type TroupeErrorOptions } from "../errors.ts";

/** Stable codes of the HTTP layer's errors. */
export const HttpErrorCode = {
  INVALID_JSON: "INVALID_JSON",
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  NOT_FOUND: "NOT_FOUND",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  VALIDATION_FAILED: "VALIDATION_FAILED",
  UNAVAILABLE: "UNAVAILABLE",
  INTERNAL: "INTERNAL",
  REQUEST_NOT_FOUND: "REQUEST_NOT_FOUND",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  REPLAY_UNAVAILABLE: "REPLAY_UNAVAILABLE",
} as const;

/** One problem found in a request body: where (`a.b.0`) and what. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
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
    super(400, HttpErrorCode.INVALID_JSON, message, options);
  }
}

/** 413: the body is larger than `bodyLimit`. */
export class BodyTooLargeError extends HttpError {
  override name = "BodyTooLargeError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(413, HttpErrorCode.BODY_TOO_LARGE, message, options);
  }
}

/** 415: the body is not `application/json`. */
export class UnsupportedMediaTypeError extends HttpError {
  override name = "UnsupportedMediaTypeError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(415, HttpErrorCode.UNSUPPORTED_MEDIA_TYPE, message, options);
  }
}

/** 404: no route has this path. */
export class NotFoundError extends HttpError {
  override name = "NotFoundError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(404, HttpErrorCode.NOT_FOUND, message, options);
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
    super(405, HttpErrorCode.METHOD_NOT_ALLOWED, message, options);
  }
}

/** 422: the body is JSON but does not match the endpoint's schema. */
export class ValidationError extends HttpError {
  override name = "ValidationError";
  constructor(
    message: string,
    readonly issues: readonly ValidationIssue[],
    options?: TroupeErrorOptions,
  ) {
    super(422, HttpErrorCode.VALIDATION_FAILED, message, {
      ...options,
      details: { issues },
    });
  }
}

/** 503: the runner is not ready, or the server is shutting down. */
export class UnavailableError extends HttpError {
  override name = "UnavailableError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(503, HttpErrorCode.UNAVAILABLE, message, options);
  }
}

/** 404 on resume or cancel: the server never had a request with this id. */
export class RequestNotFoundError extends HttpError {
  override name = "RequestNotFoundError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(404, HttpErrorCode.REQUEST_NOT_FOUND, message, options);
  }
}

/** Ends the streams still open when the server shuts down (a fatal `error` event). */
export class ShuttingDownError extends TroupeError {
  override name = "ShuttingDownError";
  constructor(message = "The server is shutting down", options?: TroupeErrorOptions) {
    super(HttpErrorCode.SHUTTING_DOWN, message, options);
  }
}

/** A resumed stream's events are no longer buffered (a fatal `error` event, status 200). */
export class ReplayUnavailableError extends TroupeError {
  override name = "ReplayUnavailableError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(HttpErrorCode.REPLAY_UNAVAILABLE, message, options);
  }
}
