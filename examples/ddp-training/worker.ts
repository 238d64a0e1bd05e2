import { type CallContext, DistributedWorker, Tensor } from "../../src/index.ts";
import { unflatten } from "./mlp.ts";
import { type TrainInput, type TrainReport, train, trainConfig } from "./train.ts";

/** The final result: how well the model does on the whole dataset, and its weights. */
export interface TrainResult {
  readonly steps: number;
  readonly worldSize: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly initialLoss: number;
  readonly initialAccuracy: number;
  /** The largest difference between this rank's weights and any other rank's: 0 when in sync. */
  readonly replicaDrift: number;
  readonly weights: {
    readonly w1: Tensor<"float64">;
    readonly b1: Tensor<"float64">;
    readonly w2: Tensor<"float64">;
    readonly b2: Tensor<"float64">;
  };
}

/**
 * Data-parallel training: every rank trains the same model on its share of each batch, and
 * `this.dist.allReduce` sums the gradients, so every rank takes the same step. Rank 0 streams a
 * report every `reportEvery` steps.
 */
export default class TrainingWorker extends DistributedWorker<
  TrainInput,
  TrainResult,
  unknown,
  TrainReport
> {
  override async call(input: TrainInput, ctx: CallContext): Promise<TrainResult> {
    const config = trainConfig(input);
    const outcome = await train(
      config,
      {
        rank: this.rank,
        worldSize: this.worldSize,
        allReduceSum: (buffer) => this.dist.allReduce(buffer, { op: "sum" }),
      },
      {
        signal: ctx.signal,
        // Awaited, so a client that reads slowly holds the ranks back instead of piling up reports.
        onReport: (report) => (this.rank === 0 ? this.addStreamingResult(report) : undefined),
      },
    );

    // Every rank applied the same summed gradients, so their weights must be the same.
    const replicas = await this.dist.allGather(outcome.params);
    let replicaDrift = 0;
    for (const other of replicas) {
      for (let i = 0; i < other.length; i++) {
        replicaDrift = Math.max(
          replicaDrift,
          Math.abs((other[i] as number) - (outcome.params[i] as number)),
        );
      }
    }

    const { w1, b1, w2, b2 } = unflatten(config.hidden, outcome.params);
    return {
      steps: config.steps,
      worldSize: this.worldSize,
      loss: outcome.final.loss,
      accuracy: outcome.final.accuracy,
      initialLoss: outcome.initial.loss,
      initialAccuracy: outcome.initial.accuracy,
      replicaDrift,
      weights: {
        w1: new Tensor(w1, [config.hidden, 2]),
        b1: new Tensor(b1, [config.hidden]),
        w2: new Tensor(w2, [2, config.hidden]),
        b2: new Tensor(b2, [2]),
      },
    };
  }
}
