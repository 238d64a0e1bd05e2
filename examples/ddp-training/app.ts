import { z } from "zod";
import { App, endpoint, StreamingResponse } from "../../src/app/index.ts";
import { DistributedRunner } from "../../src/index.ts";
import type TrainingWorker from "./worker.ts";

export const TrainRequest = z.object({
  seed: z.int().min(0).default(1).describe("Seeds the data, the initial weights and the batches"),
  steps: z.int().min(1).max(20_000).default(300),
  batchSize: z.int().min(1).max(256).default(64).describe("Samples per step over all ranks"),
  learningRate: z.number().positive().max(10).default(0.2),
  momentum: z.number().min(0).max(0.999).default(0.9),
  hidden: z.int().min(1).max(256).default(16).describe("Hidden tanh units"),
  perClass: z.int().min(1).max(10_000).default(128).describe("Points per spiral arm"),
  reportEvery: z.int().min(1).default(10).describe("Stream a report every this many steps"),
  pauseMs: z.int().min(0).max(1000).default(10).describe("Pause after each step, to watch it"),
});

/**
 * Serves data-parallel training: `POST /train` streams `{ step, loss, accuracy, progress }` from
 * rank 0 while every rank trains on its share of each batch, then the final accuracy and the
 * weights (as `.npy` tensors).
 */
export default class DdpTrainingApp extends App {
  override numGpus = 2;
  /** GPU ids, one per rank; `[]` runs the ranks on the CPU. @default detected (troupe's `gpus`) */
  gpus: readonly number[] | undefined = undefined;
  runner!: DistributedRunner<TrainingWorker>;

  override async setup() {
    this.runner = new DistributedRunner<TrainingWorker>({
      worker: new URL("./worker.ts", import.meta.url),
      worldSize: this.numGpus,
      ...(this.gpus === undefined ? {} : { gpus: this.gpus }),
    });
    await this.runner.start({ timeout: 60_000 });
  }

  @endpoint("/train", {
    input: TrainRequest,
    streaming: true,
    summary: "Train on two spirals, streaming reports",
  })
  async train(request: z.infer<typeof TrainRequest>) {
    return new StreamingResponse(this.runner.stream(request, { asTextEvents: true }), {
      mediaType: "text/event-stream",
    });
  }
}
