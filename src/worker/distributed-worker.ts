import type { ProcessGroup } from "../collectives/process-group.ts";
import { ErrorCode, RunnerStateError } from "../errors.ts";
import type { CallContext, StreamingResultOptions } from "./call-context.ts";
import { rankIdentityFromEnv } from "./rank-env.ts";
import { type RankRuntime, RUNTIME, WORKER_BRAND } from "./rank-runtime.ts";

const resolved = Promise.resolve();

/**
 * Base class of a rank's worker: troupe's `fal.distributed.DistributedWorker`. A worker module's
 * default export extends it; the runner starts one process per rank, each of which constructs the
 * class once, runs `setup()`, then `call()` once per request.
 *
 * @typeParam Input - what `call()` takes (the request payload)
 * @typeParam Output - what `call()` returns; rank 0's return value is the request's final result
 * @typeParam SetupOptions - what `setup()` takes (`runner.start({ setup })`)
 * @typeParam Result - what `addStreamingResult()` streams
 *
 * @example
 * ```ts
 * export default class StreamingWorker extends DistributedWorker {
 *   override async call(input: { steps: number }, ctx: CallContext) {
 *     for (let step = 0; step < input.steps; step++) {
 *       ctx.signal.throwIfAborted();
 *       if (this.rank === 0) this.addStreamingResult({ step, progress: (step + 1) / input.steps });
 *     }
 *     return { output: "done" };
 *   }
 * }
 * ```
 */
export abstract class DistributedWorker<
  Input = unknown,
  Output = unknown,
  SetupOptions = unknown,
  Result = unknown,
> {
  static readonly [WORKER_BRAND] = true;

  /** This process's rank, 0 to `worldSize - 1` (`RANK`). */
  readonly rank: number;
  /** Number of ranks in the group (`WORLD_SIZE`). */
  readonly worldSize: number;
  /** Rank among the processes on this host (`LOCAL_RANK`). */
  readonly localRank: number;
  /**
   * `"cuda:0"` when the runner gave this rank a GPU (`CUDA_VISIBLE_DEVICES` then holds just that
   * GPU, so it is device 0 inside this process), `"cpu"` otherwise.
   */
  readonly device: string;

  /** @internal Installed by the rank's entry file. */
  [RUNTIME]: RankRuntime | undefined;

  constructor() {
    const identity = rankIdentityFromEnv();
    this.rank = identity.rank;
    this.worldSize = identity.worldSize;
    this.localRank = identity.localRank;
    this.device = identity.device;
  }

  /**
   * The process group of every rank of this runner: troupe's `torch.distributed`. Joined before
   * `setup()`, so setup may already use it (to broadcast weights, say). A cancelled request
   * aborts the collectives pending in it on every rank, and the next request starts clean.
   *
   * @example
   * ```ts
   * const parts = await this.dist.gather(preview, { dst: 0 }); // Float32Array[] on rank 0
   * await this.dist.barrier();
   * ```
   */
  get dist(): ProcessGroup {
    const runtime = this[RUNTIME];
    if (runtime === undefined) {
      throw new RunnerStateError(
        ErrorCode.NOT_STARTED,
        "`this.dist` exists only in a worker that a DistributedRunner started; to make a group by hand, call initProcessGroup()",
      );
    }
    return runtime.dist;
  }

  /** Runs once per rank before any call: load models onto `this.device` here. */
  setup(_options: SetupOptions): void | Promise<void> {}

  /** Runs once per request on every rank. Rank 0's return value is the final result. */
  abstract call(input: Input, ctx: CallContext): Output | Promise<Output>;

  /** Runs once per rank when the runner stops. */
  teardown(): void | Promise<void> {}

  /**
   * Streams an intermediate result to the request's consumer. Only rank 0's results reach it
   * (unless the runner was created with `streamAllRanks`); other ranks' are dropped with a
   * one-time warning. The result is encoded at once, so mutating it afterwards is safe.
   *
   * Never drops a result silently. The returned promise resolves when the rank has room for more
   * (the consumer is keeping up); a worker that produces faster than its consumer reads should
   * `await` it. Throws {@link StreamOverflowError} if unsent results exceed `maxPendingBytes`.
   */
  addStreamingResult(result: Result, options?: StreamingResultOptions): Promise<void> {
    const runtime = this[RUNTIME];
    if (runtime === undefined) return resolved;
    return runtime.addResult(result, options);
  }

  /**
   * Streams a non-fatal error to the consumer (the request goes on). To fail the request, throw
   * from `call()` instead.
   */
  addStreamingError(error: unknown): void {
    this[RUNTIME]?.addError(error);
  }

  /** Prints `[rank N] message` to this rank's stdout. */
  rankPrint(message: string): void {
    process.stdout.write(`[rank ${this.rank}] ${message}\n`);
  }
}

/** `true` if `value` is a class extending {@link DistributedWorker} (from any copy of troupe). */
export function isWorkerClass(value: unknown): value is new () => DistributedWorker {
  return (
    typeof value === "function" &&
    (value as unknown as Record<symbol, unknown>)[WORKER_BRAND] === true
  );
}
