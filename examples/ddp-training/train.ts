import { type Dataset, twoSpirals } from "./dataset.ts";
import { Mlp } from "./mlp.ts";
import { permutation, seededRandom } from "./random.ts";

/** What a training run takes; {@link trainConfig} fills the defaults. */
export interface TrainInput {
  /** Seeds the data, the initial weights and the batch order. @default 1 */
  readonly seed?: number;
  /** SGD steps. @default 300 */
  readonly steps?: number;
  /** Samples per step across all ranks; each rank takes its share. @default 64 */
  readonly batchSize?: number;
  /** @default 0.2 */
  readonly learningRate?: number;
  /** Heavy-ball momentum. @default 0.9 */
  readonly momentum?: number;
  /** Hidden tanh units. @default 16 */
  readonly hidden?: number;
  /** Points per spiral arm. @default 128 */
  readonly perClass?: number;
  /** Stream a report every this many steps (and after the last). @default 10 */
  readonly reportEvery?: number;
  /** Milliseconds to pause after each step, so that a person can watch it learn. @default 0 */
  readonly pauseMs?: number;
}

export type TrainConfig = Required<TrainInput>;

export function trainConfig(input: TrainInput = {}): TrainConfig {
  return {
    seed: input.seed ?? 1,
    steps: input.steps ?? 300,
    batchSize: input.batchSize ?? 64,
    learningRate: input.learningRate ?? 0.2,
    momentum: input.momentum ?? 0.9,
    hidden: input.hidden ?? 16,
    perClass: input.perClass ?? 128,
    reportEvery: input.reportEvery ?? 10,
    pauseMs: input.pauseMs ?? 0,
  };
}

/** The one collective data-parallel training needs, and who this rank is. */
export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** Sums `buffer` over the ranks, in place; every rank gets the same sums. */
  allReduceSum(buffer: Float64Array): Promise<void>;
}

/** A single process: the sum over one rank is what it has. */
export const singleProcess: Collective = {
  rank: 0,
  worldSize: 1,
  allReduceSum: async () => {},
};

/** What every `reportEvery` steps shows: the loss and accuracy of that step's whole batch. */
export interface TrainReport {
  readonly step: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly progress: number;
}

export interface TrainOutcome {
  readonly params: Float64Array;
  /** Mean loss and accuracy over the whole dataset before the first step. */
  readonly initial: { readonly loss: number; readonly accuracy: number };
  /** The same after the last step. */
  readonly final: { readonly loss: number; readonly accuracy: number };
}

/**
 * Data-parallel SGD with momentum. Every rank builds the same data, weights and batch order from
 * the seed; each step it takes its share of the batch, adds up its gradient, and one `allReduce`
 * sums the gradients (with the loss and the count of right answers riding along) over the
 * ranks. Dividing by the global batch size gives every rank the whole batch's mean gradient, so
 * all ranks apply the same update and stay equal — and equal to one process on the whole batch.
 */
export async function train(
  config: TrainConfig,
  collective: Collective,
  options: {
    readonly onReport?: (report: TrainReport) => void | Promise<void>;
    readonly signal?: AbortSignal;
  } = {},
): Promise<TrainOutcome> {
  const data = twoSpirals({ perClass: config.perClass, seed: config.seed });
  const mlp = new Mlp(config.hidden);
  const params = mlp.init(config.seed + 1);
  const velocity = new Float64Array(mlp.size);
  // The gradient, then the summed loss and the count of right answers: one message per step.
  const buffer = new Float64Array(mlp.size + 2);
  const grads = buffer.subarray(0, mlp.size);
  const shuffle = seededRandom(config.seed + 2);
  const { rank, worldSize } = collective;
  const batch = config.batchSize;

  const initial = await evaluate(mlp, params, data, collective);
  let order = permutation(data.size, shuffle);
  let at = 0;
  for (let step = 1; step <= config.steps; step++) {
    options.signal?.throwIfAborted();
    if (at + batch > data.size) {
      order = permutation(data.size, shuffle); // a new epoch
      at = 0;
    }
    buffer.fill(0);
    // This rank's contiguous share of the batch; shares differ by at most one sample.
    const from = at + Math.floor((rank * batch) / worldSize);
    const to = at + Math.floor(((rank + 1) * batch) / worldSize);
    const { loss, correct } = mlp.accumulate(params, data.x, data.labels, order, from, to, grads);
    buffer[mlp.size] = loss;
    buffer[mlp.size + 1] = correct;
    await collective.allReduceSum(buffer);
    at += batch;

    for (let i = 0; i < mlp.size; i++) {
      const v = config.momentum * (velocity[i] as number) + (grads[i] as number) / batch;
      velocity[i] = v;
      params[i] = (params[i] as number) - config.learningRate * v;
    }
    if (step % config.reportEvery === 0 || step === config.steps) {
      await options.onReport?.({
        step,
        loss: (buffer[mlp.size] as number) / batch,
        accuracy: (buffer[mlp.size + 1] as number) / batch,
        progress: step / config.steps,
      });
    }
    if (config.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, config.pauseMs));
  }
  const final = await evaluate(mlp, params, data, collective);
  return { params, initial, final };
}

/** Mean loss and accuracy over the whole dataset, each rank scoring its share. */
async function evaluate(
  mlp: Mlp,
  params: Float64Array,
  data: Dataset,
  collective: Collective,
): Promise<{ loss: number; accuracy: number }> {
  const { rank, worldSize } = collective;
  const all = Int32Array.from({ length: data.size }, (_, i) => i);
  const from = Math.floor((rank * data.size) / worldSize);
  const to = Math.floor(((rank + 1) * data.size) / worldSize);
  const scratch = new Float64Array(mlp.size);
  const { loss, correct } = mlp.accumulate(params, data.x, data.labels, all, from, to, scratch);
  const sums = Float64Array.of(loss, correct);
  await collective.allReduceSum(sums);
  return { loss: (sums[0] as number) / data.size, accuracy: (sums[1] as number) / data.size };
}
