export { ErrorCode } from "../errors.ts";
export { type Dialect, SseEvent, SseHeader } from "../events/sse-names.ts";
export type { QueueOptions } from "../queue/queue-store.ts";
export type { WebhookRetryOptions } from "../queue/webhook.ts";
export { App, type AppClass } from "./app.ts";
export type { CorsOption } from "./cors.ts";
export {
  type EndpointContext,
  type EndpointOptions,
  endpoint,
} from "./endpoint.ts";
export {
  BodyTooLargeError,
  type FastApiIssue,
  HostNotAllowedError,
  HttpError,
  InvalidJsonError,
  MethodNotAllowedError,
  NotFoundError,
  ReplayUnavailableError,
  RequestNotFoundError,
  ShuttingDownError,
  UnauthorizedError,
  UnavailableError,
  UnknownDialectError,
  UnsupportedMediaTypeError,
  ValidationError,
  type ValidationIssue,
} from "./errors.ts";
export type { HealthReport, HealthStatus, QueueHealth } from "./health.ts";
export { STREAMING_EXTENSION } from "./openapi.ts";
export type {
  AuthOption,
  AuthRequest,
  ServeOptions,
  ServerAddress,
  TlsOption,
} from "./options.ts";
export { type ServerHandle, serve } from "./serve.ts";
export type { HeartbeatTimers } from "./sse-connection.ts";
export { StreamingResponse, type StreamingResponseOptions } from "./streaming-response.ts";
