export type { DType, TypedArray } from "./dtype.ts";
export type { OperationOptions } from "./engine/group-info.ts";
export {
  CollectiveAbortedError,
  CollectiveMismatchError,
  CollectiveTimeoutError,
  GroupDestroyedError,
  PeerExitedError,
  RendezvousError,
  StoreError,
} from "./errors.ts";
export { type InitProcessGroupOptions, initProcessGroup } from "./init-process-group.ts";
export type { ReduceOp } from "./kernels/reduce-op.ts";
export type { AllReduceOptions } from "./ops/all-reduce.ts";
export type { BroadcastOptions } from "./ops/broadcast.ts";
export type { GatherOptions } from "./ops/gather.ts";
export type { RecvOptions } from "./ops/recv.ts";
export type { ReduceOptions } from "./ops/reduce.ts";
export type { ScatterOptions } from "./ops/scatter.ts";
export type { SendOptions } from "./ops/send.ts";
export { ProcessGroup, type TransportKind } from "./process-group.ts";
export { TCPStore, type TCPStoreOptions } from "./store/tcp-store.ts";
