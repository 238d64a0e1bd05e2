export { ErrorCode, isAbortError, TroupeError } from "../errors.ts";
export type { PublicError } from "../events/public-error.ts";
export type { ClientEvent, Dialect } from "./client-event.ts";
export { ClientStream } from "./client-stream.ts";
export {
  ConnectionError,
  HttpError,
  IdleTimeoutError,
  NonFatalStreamError,
  ReaderReplacedError,
  ReplayUnavailableError,
  RequestError,
  type RequestErrorOptions,
  RequestFailedError,
  UnexpectedResponseError,
  type ValidationIssue,
} from "./errors.ts";
export type { ReconnectOptions, RequestOptions, RunOptions, StreamOptions } from "./options.ts";
export { run } from "./run.ts";
export { stream } from "./stream.ts";
