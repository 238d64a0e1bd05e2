import { setTimeout as delay } from "node:timers/promises";
import type { CallContext } from "../../src/index.ts";
import { monotonicMs } from "./clock.ts";
import { DistributedWorker } from "./troupe.ts";

export type StreamInput =
  /** Rank 0 streams `count` timestamped results, one every `intervalMs`. */
  | { readonly op: "paced"; readonly count: number; readonly intervalMs: number }
  /** Rank 0 adds `count` results in one synchronous loop, then returns. */
  | { readonly op: "burst"; readonly count: number }
  /** Every rank streams `{ ready }`, then waits to be cancelled and records when. */
  | { readonly op: "hold" }
  /** Every rank streams when its last `hold` saw its signal fire. */
  | { readonly op: "lastAbort" };

export type StreamResult =
  | { readonly i: number; readonly sent?: number }
  | { readonly ready: number }
  | { readonly abortedAt: number | undefined };

let lastAbortAt: number | undefined;

/** The streaming benchmarks' worker. */
export default class StreamWorker extends DistributedWorker<
  StreamInput,
  unknown,
  unknown,
  StreamResult
> {
  override async call(input: StreamInput, ctx: CallContext): Promise<unknown> {
    switch (input.op) {
      case "paced":
        if (this.rank !== 0) return null;
        for (let i = 0; i < input.count; i++) {
          await delay(input.intervalMs, undefined, { signal: ctx.signal });
          await this.addStreamingResult({ i, sent: monotonicMs() });
        }
        return { count: input.count };
      case "burst":
        if (this.rank !== 0) return null;
        // Deliberately not awaited: a tight loop, as a worker that ignores backpressure writes it.
        for (let i = 0; i < input.count; i++) void this.addStreamingResult({ i });
        return { added: input.count };
      case "hold":
        return this.hold(ctx.signal);
      case "lastAbort":
        await this.addStreamingResult({ abortedAt: lastAbortAt });
        return null;
    }
  }

  private async hold(signal: AbortSignal): Promise<never> {
    lastAbortAt = undefined;
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) {
        lastAbortAt = monotonicMs();
        resolve();
        return;
      }
      signal.addEventListener(
        "abort",
        () => {
          lastAbortAt = monotonicMs();
          resolve();
        },
        { once: true },
      );
    });
    await this.addStreamingResult({ ready: this.rank });
    await aborted;
    throw signal.reason;
  }
}
