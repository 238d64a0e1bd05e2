import type { FastifyReply } from "fastify";
import { ErrorCode, TroupeError } from "../errors.ts";
import {
  BodyTooLargeError,
  HttpError,
  HttpErrorCode,
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
  HttpErrorCode.SHUTTING_DOWN,
]);

/** Any error as the HTTP error it is answered with. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new BodyTooLargeError("The request body is larger than the server accepts", {
        cause: error,
      });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new UnsupportedMediaTypeError("Expected Content-Type: application/json", {
        cause: error,
      });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new InvalidJsonError("The request body is not valid JSON", { cause: error });
  }
  if (error instanceof TroupeError && UNAVAILABLE_CODES.has(error.code)) {
    return new UnavailableError(error.message, { cause: error });
  }
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new HttpError(status, HttpErrorCode.INVALID_JSON, "Bad request", { cause: error });
  }
  return new HttpError(
    500,
    HttpErrorCode.INTERNAL,
    error instanceof TroupeError ? error.message : "Internal server error",
    { cause: error },
  );
}

/** Answers with `{"error":{"code","message","requestId","issues"?}}`. */
export function sendError(reply: FastifyReply, requestId: string, error: HttpError): void {
  if (error instanceof MethodNotAllowedError) reply.header("allow", error.allow.join(", "));
  void reply
    .code(error.status)
    .type("application/json; charset=utf-8")
    .send(
      JSON.stringify({
        error: {
          code: error.code,
          message: error.message,
          requestId,
          ...(error instanceof ValidationError ? { issues: error.issues } : {}),
        },
      }),
    );
}
