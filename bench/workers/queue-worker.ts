import { setTimeout as delay } from "node:timers/promises";
import type { CallContext } from "../../src/index.ts";
import { monotonicMs } from "./clock.ts";
import { DistributedWorker } from "./troupe.ts";

export type QueueTask =
  /**
   * Rank 0 streams `results` results `{ i, replica, calledAt, sent }` back-to-back (not awaited), then
   * every rank sleeps `ms` (through `ctx.signal`) and returns.
   */
  | { readonly op: "run"; readonly results: number; readonly ms: number }
  /** Rank 0 streams one result, then every rank waits until the request is cancelled: holds the replica's runner. */
  | { readonly op: "hold" };

/** A streamed result: which replica (the rank's parent process) ran it, and when, on the monotonic clock. */
export interface QueueResult {
  readonly i: number;
  readonly replica: number;
  /** When call() began, and when this result was added. */
  readonly calledAt: number;
  readonly sent: number;
}

/** The queue benchmarks' worker (bench/queue.ts). */
export default class QueueWorker extends DistributedWorker<
  QueueTask,
  unknown,
  unknown,
  QueueResult
> {
  override async call(input: QueueTask, ctx: CallContext): Promise<unknown> {
    const calledAt = monotonicMs();
    const replica = process.ppid;
    if (input.op === "hold") {
      if (this.rank === 0)
        await this.addStreamingResult({ i: 0, replica, calledAt, sent: calledAt });
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve(), { once: true }),
      );
      throw ctx.signal.reason;
    }
    if (this.rank === 0) {
      for (let i = 0; i < input.results; i++) {
        void this.addStreamingResult({ i, replica, calledAt, sent: monotonicMs() });
      }
    }
    if (input.ms > 0) await delay(input.ms, undefined, { signal: ctx.signal });
    return { replica };
  }
}
