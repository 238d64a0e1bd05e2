export { ErrorCode, isAbortError, TroupeError } from "../errors.ts";
export type { PublicError } from "../events/public-error.ts";
export { type CancelOutcome, cancel } from "./cancel.ts";
export type { ClientEvent, Dialect, RetryEvent } from "./client-event.ts";
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
export type {
  QueueCallOptions,
  QueuePriority,
  StatusOptions,
  StreamQueuedOptions,
  SubmitOptions,
  SubscribeOptions,
} from "./queue-options.ts";
export type {
  CompletedStatus,
  InProgressStatus,
  InQueueStatus,
  QueueLog,
  QueueState,
  QueueStatus,
  QueueSubmission,
  QueueUrls,
} from "./queue-status.ts";
export { result } from "./result.ts";
export { run } from "./run.ts";
export { status } from "./status.ts";
export { statusStream } from "./status-stream.ts";
export { stream } from "./stream.ts";
export { streamQueued } from "./stream-queued.ts";
export { submit } from "./submit.ts";
export { subscribe } from "./subscribe.ts";
