export type { CallContext, StreamingResultOptions } from "./call-context.ts";
export { DistributedWorker } from "./distributed-worker.ts";
