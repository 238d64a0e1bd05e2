import type { FastifyReply } from "fastify";
import { ErrorCode, TroupeError } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import {
  BodyTooLargeError,
  HttpError,
  InvalidJsonError,
  MethodNotAllowedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "./errors.ts";

const UNAVAILABLE_CODES = new Set<string>([
  ErrorCode.NOT_STARTED,
  ErrorCode.RUNNER_STOPPED,
  ErrorCode.GROUP_UNAVAILABLE,
  ErrorCode.SHUTTING_DOWN,
]);

/** A failure as it is answered: the status, and the error whose public form is the body. */
export interface HttpFailure {
  readonly status: number;
  readonly error: unknown;
}

/**
 * Any error as the answer it gets. fastify's own and the runner's "not now" errors become the
 * HTTP layer's; every other error keeps its code (a worker's failure is CALL_FAILED here as in a
 * stream) and is answered 500.
 */
export function httpFailure(error: unknown): HttpFailure {
  if (HttpError.isInstance(error)) return { status: error.status, error };
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return answer(
        new BodyTooLargeError("The request body is larger than the server accepts", {
          cause: error,
        }),
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return answer(
        new UnsupportedMediaTypeError("Expected Content-Type: application/json", { cause: error }),
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return answer(new InvalidJsonError("The request body is not valid JSON", { cause: error }));
  }
  // The queue's store is away: the request was not recorded; its code says why.
  if (TroupeError.isInstance(error) && error.code === ErrorCode.QUEUE_UNAVAILABLE) {
    return { status: 503, error };
  }
  if (TroupeError.isInstance(error) && UNAVAILABLE_CODES.has(error.code)) {
    return answer(new UnavailableError(error.message, { cause: error }));
  }
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return answer(new HttpError(status, ErrorCode.INVALID_JSON, "Bad request", { cause: error }));
  }
  return { status: 500, error };
}

function answer(error: HttpError): HttpFailure {
  return { status: error.status, error };
}

/**
 * Answers with `{"error":<public error>, "detail": …}`: `detail` is what fal's (FastAPI's) error
 * bodies carry and fal's clients read, the message (for a 422, FastAPI's list of issues, so they
 * fill `ValidationError.fieldErrors`).
 */
export function sendError(reply: FastifyReply, requestId: string, failure: HttpFailure): void {
  const { status, error } = failure;
  if (MethodNotAllowedError.isInstance(error)) reply.header("allow", error.allow.join(", "));
  const wire = publicError(error, requestId);
  const body = {
    error: wire,
    detail: ValidationError.isInstance(error) ? error.detail : wire.message,
  };
  void reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify(body));
}
