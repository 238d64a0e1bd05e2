import { type CallContext, DistributedWorker, Image, Tensor } from "troupe";

declare function render(step: number): Uint8Array; // 256x256 RGB pixels
declare const latents: Float32Array; // 4x64x64

export default class PracticesWorker extends DistributedWorker<{ steps: number }> {
  override async call(input: { steps: number }, _ctx: CallContext) {
    const { steps } = input;
    for (let step = 0; step < steps; step++) {
      const data = { step, progress: (step + 1) / steps };
      // docs:start rank-0
      if (this.rank === 0) this.addStreamingResult(data);
      // docs:end rank-0

      // docs:start every-n
      if (step % 5 === 0) this.addStreamingResult({ step }); // every 5 steps
      // the same, and the last step is sent too when the call ends:
      this.addStreamingResult({ step, progress: (step + 1) / steps }, { every: 5 });
      // at most one preview every 100 ms, and always the last one:
      this.addStreamingResult({ step, preview: render(step) }, { throttle: 100 });
      // docs:end every-n

      // docs:start barrier
      if (this.rank === 0) await this.addStreamingResult(data);
      await this.dist.barrier(); // wait for all ranks
      // docs:end barrier

      // docs:start small
      // Good: small progress updates
      this.addStreamingResult({ step, progress: 0.5 });
      // For large arrays, a Tensor travels as raw bytes (and .npy in text events)
      this.addStreamingResult({ step, latents: new Tensor(latents, [4, 64, 64]) });
      // docs:end small

      // docs:start images
      const preview = Image.fromPixels(render(step), { width: 256, height: 256, channels: 3 });
      // Encoded on this rank as JPEG (quality 60), sent as fal's
      // { content_type, width, height, url: "data:image/jpeg;base64,..." }
      this.addStreamingResult({ step, preview }, { latestWins: "preview" });
      // docs:end images
    }
    return null;
  }
}
