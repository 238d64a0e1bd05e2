/**
 * How a rank runs a model with onnxruntime-node: on its own GPU when it has one, on the CPU
 * otherwise, with as many intra-op threads as its share of the host's cores.
 */
import { availableParallelism } from "node:os";
import type { InferenceSession } from "onnxruntime-node";

/** What a rank picks its execution provider and threads from. */
export interface RankPlacement {
  /** The worker's `this.device`: `"cuda:0"` when the runner gave the rank a GPU, else `"cpu"`. */
  readonly device: string;
  /** Ranks on this host (`LOCAL_WORLD_SIZE`, which troupe sets as torchrun does). */
  readonly localWorldSize: number;
  /**
   * Intra-op threads; `undefined` for the rank's share of the host's cores, `0` for onnxruntime's
   * own default (a thread per physical core, whatever else runs there).
   */
  readonly threads?: number | undefined;
}

/**
 * onnxruntime's session options for a rank. A `cuda:N` device runs on the CUDA provider with
 * device N — under `CUDA_VISIBLE_DEVICES` the rank sees only its own GPU, so that is device 0 —
 * and falls back to the CPU provider for any operator CUDA lacks; `cpu` runs on the CPU provider
 * alone. Intra-op threads default to the host's cores divided by the ranks on it, so ranks do not
 * oversubscribe the cores they share (onnxruntime's own default is every core, per session).
 */
export function sessionOptionsFor(placement: RankPlacement): InferenceSession.SessionOptions {
  const cuda = /^cuda:(\d+)$/.exec(placement.device);
  const threads =
    placement.threads ??
    Math.max(1, Math.floor(availableParallelism() / Math.max(1, placement.localWorldSize)));
  return {
    executionProviders:
      cuda === null ? ["cpu"] : [{ name: "cuda", deviceId: Number(cuda[1]) }, "cpu"],
    ...(threads === 0 ? {} : { intraOpNumThreads: threads }),
    // One operator at a time: the rank's threads go to each operator's own parallel loops.
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  };
}

/** Ranks on this host, from the environment troupe (and torchrun) give each rank. */
export function localWorldSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.LOCAL_WORLD_SIZE ?? env.WORLD_SIZE ?? 1);
  return Number.isSafeInteger(value) && value > 0 ? value : 1;
}
