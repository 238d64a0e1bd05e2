// docs:start
import { type CallContext, DistributedWorker } from "troupe";

export default class StreamingWorker extends DistributedWorker<
  { prompt: string; steps?: number },
  { output: string }
> {
  override async call(input: { prompt: string; steps?: number }, ctx: CallContext) {
    const steps = input.steps ?? 20;
    for (let step = 0; step < steps; step++) {
      ctx.signal.throwIfAborted(); // the client left: stop on every rank
      await model.step(input.prompt);

      // Only rank 0 streams, to avoid duplicates
      if (this.rank === 0) {
        this.addStreamingResult({
          step,
          progress: (step + 1) / steps,
          message: `Processing step ${step + 1}/${steps}`,
        });
      }
    }
    return { output: "done" };
  }
}
// docs:end

/** Stands in for a model: one denoising step per call. */
declare const model: { step(prompt: string): Promise<void> };
