export {
  CollectiveAbortedError,
  CollectiveMismatchError,
  CollectiveTimeoutError,
  type DType,
  GroupDestroyedError,
  type InitProcessGroupOptions,
  initProcessGroup,
  type OperationOptions,
  PeerExitedError,
  ProcessGroup,
  type ReduceOp,
  RendezvousError,
  StoreError,
  TCPStore,
  type TCPStoreOptions,
  type TransportKind,
  type TypedArray,
} from "./collectives/index.ts";
export { Image, type ImageChannels, type ImageFormat } from "./encoding/image.ts";
export { decodeNpy, encodeNpy, type TensorDType } from "./encoding/npy.ts";
export { Tensor } from "./encoding/tensor.ts";
export {
  abortReason,
  ErrorCode,
  GroupUnavailableError,
  InvalidArgumentError,
  InvalidPayloadError,
  InvalidWorkerError,
  isAbortError,
  ProtocolError,
  RemoteError,
  RequestTimeoutError,
  RunnerStateError,
  type SerializedError,
  SetupError,
  StartTimeoutError,
  StreamedError,
  StreamIdleError,
  StreamOverflowError,
  TroupeError,
  type TroupeErrorOptions,
  WorkerCallError,
  WorkerExitedError,
} from "./errors.ts";
export { type PublicError, publicError, type ValidationIssue } from "./events/public-error.ts";
export type {
  DoneEvent,
  ErrorEvent,
  HeartbeatEvent,
  QueuedEvent,
  RequestEvent,
  ResultEvent,
  StartedEvent,
} from "./events/request-event.ts";
export {
  type VerifyWebhookOptions,
  verifyWebhook,
  WebhookHeader,
  type WebhookJwk,
  type WebhookJwks,
} from "./queue/verify-webhook.ts";
export {
  DistributedRunner,
  type InvokeOptions,
  type RankInfo,
  type RunnerState,
  type StartOptions,
  type StopOptions,
  type WorkerInput,
  type WorkerOutput,
  type WorkerResult,
  type WorkerSetup,
} from "./runner/distributed-runner.ts";
export type { Logger } from "./runner/logger.ts";
export type { DistributedRunnerOptions, RestartPolicy } from "./runner/options.ts";
export {
  type RankResult,
  type RunnerEvent,
  RunnerStream,
  type StreamOptions,
} from "./runner/runner-stream.ts";
export type { CallContext, StreamingResultOptions } from "./worker/call-context.ts";
export { DistributedWorker } from "./worker/distributed-worker.ts";
