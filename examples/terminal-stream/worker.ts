import { type CallContext, DistributedWorker } from "../../src/index.ts";

export interface Input {
  readonly prompt: string;
  readonly steps?: number;
}

/**
 * The seed's StreamingWorker with a little real work per step: every rank refines its share of
 * an estimate of pi, and rank 0 streams progress after each step.
 */
export default class StreamingWorker extends DistributedWorker<
  Input,
  { output: string; pi: number },
  { model: string },
  { step: number; progress: number; message: string }
> {
  private model = "";

  override async setup(options: { model: string }) {
    this.model = options.model;
    this.rankPrint(`ready on ${this.device} with model ${this.model}`);
  }

  override async call(input: Input, ctx: CallContext) {
    const steps = input.steps ?? 20;
    let inside = 0;
    let total = 0;
    for (let step = 0; step < steps; step++) {
      ctx.signal.throwIfAborted();
      // Each rank samples a different stretch of a deterministic low-discrepancy sequence.
      for (let k = 0; k < 200_000; k++) {
        const n = (step * this.worldSize + this.rank) * 200_000 + k;
        const x = (n * 0.7548776662466927) % 1;
        const y = (n * 0.5698402909980532) % 1;
        if (x * x + y * y <= 1) inside++;
        total++;
      }
      if (this.rank === 0) {
        this.addStreamingResult(
          { step, progress: (step + 1) / steps, message: `Processing step ${step + 1}/${steps}` },
          { asTextEvent: true },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { output: `${input.prompt}: done with ${this.model}`, pi: (4 * inside) / total };
  }
}
