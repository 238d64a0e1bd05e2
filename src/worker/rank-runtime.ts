import type { ProcessGroup } from "../collectives/process-group.ts";
import type { StreamingResultOptions } from "./call-context.ts";

/** What a worker instance uses to reach its runner; installed by the rank's entry file. */
export interface RankRuntime {
  addResult(result: unknown, options: StreamingResultOptions | undefined): Promise<void>;
  addError(error: unknown): void;
  /** The world process group this rank joined before `setup()`. */
  readonly dist: ProcessGroup;
}

/**
 * Key under which the entry file installs the {@link RankRuntime} on a worker instance. A
 * registered symbol, so a worker built on another copy of troupe (src vs dist, ESM vs CJS) still
 * finds it.
 */
export const RUNTIME: unique symbol = Symbol.for("troupe.runtime");

/** Marks worker classes, so a class from another copy of troupe is still recognised. */
export const WORKER_BRAND: unique symbol = Symbol.for("troupe.DistributedWorker");
