// docs:start
import { type CallContext, DistributedWorker, Image } from "troupe";

export default class MultiGPUStreamingWorker extends DistributedWorker<{
  prompt: string;
  numSteps?: number;
}> {
  override async call(input: { prompt: string; numSteps?: number }, ctx: CallContext) {
    const numSteps = input.numSteps ?? 20;
    let intermediate: Float32Array = new Float32Array(64 * 64 * 3);
    for (let step = 0; step < numSteps; step++) {
      ctx.signal.throwIfAborted();
      intermediate = denoise(input.prompt, step, this.rank);
      if (step % 5 !== 0) continue; // stream every 5 steps

      // Gather from all ranks: Float32Array[] on rank 0, undefined elsewhere
      const parts = await this.dist.gather(intermediate, { dst: 0 });

      // Only rank 0 streams the combined result
      if (parts !== undefined) {
        await this.addStreamingResult(
          { step, preview: toImage(combine(parts)), numGpus: this.worldSize },
          { latestWins: "preview" },
        );
      }

      // Synchronize before the next step
      await this.dist.barrier();
    }
    return { final: toImage(intermediate) };
  }
}
// docs:end

/** Stands in for a model: renders this rank's 64x64 RGB intermediate image as floats in [0, 1]. */
declare function denoise(prompt: string, step: number, rank: number): Float32Array;
/** Averages the ranks' images into one preview. */
declare function combine(parts: Float32Array[]): Float32Array;

function toImage(rgb: Float32Array): Image {
  const pixels = Uint8Array.from(rgb, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  return Image.fromPixels(pixels, { width: 64, height: 64, channels: 3 });
}
