import { type CallContext, DistributedWorker, Image } from "../../src/index.ts";

export interface GatherStepInput {
  readonly op: "steps";
  /** Preview steps to run. */
  readonly steps?: number;
  /** Side of the 3 × size × size float32 tensor each rank gathers. @default 256 */
  readonly size?: number;
  /** Pause between steps, standing in for the rendering between previews, in ms. @default 20 */
  readonly pauseMs?: number;
}

/** What rank 0 streams per step; `started` is {@link monotonicMs} when the step's gather began. */
export interface GatherStepResult {
  readonly step: number;
  readonly started: number;
  readonly preview: Image;
}

/** Ms on the machine's monotonic clock (CLOCK_MONOTONIC), which every process of it shares. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * The preview step of the example on its own, for the benchmark: every rank gathers a
 * 3 × 256 × 256 float32 tensor (channels first, values in [0, 1], as a model's decoded image) to
 * rank 0, which averages them into 8-bit RGB and streams it as a preview (the rank encodes it as
 * a JPEG at quality 60); then all ranks meet at a barrier. Returns rank 0's time per step, gather
 * to barrier, in ms.
 */
export default class GatherStepWorker extends DistributedWorker<
  GatherStepInput,
  readonly number[],
  undefined,
  GatherStepResult
> {
  override async call(input: GatherStepInput, ctx: CallContext) {
    const { steps = 10, size = 256, pauseMs = 20 } = input;
    const plane = size * size;
    const tensor = new Float32Array(3 * plane);
    const out =
      this.rank === 0
        ? Array.from({ length: this.worldSize }, () => new Float32Array(3 * plane))
        : undefined;
    const stepMs: number[] = [];
    for (let step = 0; step < steps; step++) {
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      for (let i = 0; i < tensor.length; i++) {
        tensor[i] = ((i * 7 + step * 13 + this.rank * 29) % 256) / 255;
      }
      const started = monotonicMs();
      const parts = await this.dist.gather(tensor, { dst: 0, out });
      if (parts !== undefined) {
        const pixels = average(parts, plane);
        await this.addStreamingResult(
          {
            step,
            started,
            preview: Image.fromPixels(pixels, { width: size, height: size, channels: 3 }),
          },
          { latestWins: "preview" },
        );
      }
      await this.dist.barrier();
      stepMs.push(monotonicMs() - started);
    }
    return stepMs;
  }
}

/** The mean of channels-first float tensors in [0, 1], as interleaved 8-bit RGB. */
function average(parts: readonly Float32Array[], plane: number): Uint8Array {
  const pixels = new Uint8Array(3 * plane);
  const scale = 255 / parts.length;
  // Pixel by pixel, all three channels at once: the stores go in order, which is what costs.
  for (let p = 0, j = 0; p < plane; p++, j += 3) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (const part of parts) {
      r += part[p] as number;
      g += part[p + plane] as number;
      b += part[p + 2 * plane] as number;
    }
    // A Uint8Array store truncates: + 0.5 rounds.
    pixels[j] = r * scale + 0.5;
    pixels[j + 1] = g * scale + 0.5;
    pixels[j + 2] = b * scale + 0.5;
  }
  return pixels;
}
