import { type CallContext, DistributedWorker } from "troupe";

export interface Input {
  readonly prompt: string;
  readonly steps?: number;
}

export interface Progress {
  readonly step: number;
  readonly progress: number;
  readonly message: string;
}

export interface Output {
  readonly output: string;
}

/**
 * One instance runs in each rank's process. Every rank works on every step; only rank 0 streams,
 * so the client sees each step once. Replace the loop's body with your model.
 */
export default class Worker extends DistributedWorker<Input, Output, unknown, Progress> {
  override async setup() {
    // Once per rank, before the first request: load your model onto this.device here.
  }

  override async call(input: Input, ctx: CallContext): Promise<Output> {
    const steps = input.steps ?? 10;
    for (let step = 0; step < steps; step++) {
      ctx.signal.throwIfAborted(); // the client left or the request timed out: stop on every rank
      if (this.rank === 0) {
        // Awaiting it lets a slow client hold the worker back instead of piling up results.
        await this.addStreamingResult({
          step,
          progress: (step + 1) / steps,
          message: `Processing step ${step + 1}/${steps}`,
        });
      }
      await this.dist.barrier(); // keep the ranks in step
    }
    return { output: `${input.prompt}: ${steps} steps on ${this.worldSize} ranks` };
  }
}
