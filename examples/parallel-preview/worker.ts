import { type CallContext, DistributedWorker, Image, Tensor } from "../../src/index.ts";
import { blurOf, blurred, tileGrid } from "./grid.ts";
import { addSample, bandOf, type Scene, sceneOf, toPixels } from "./lyapunov.ts";

/** Rank 0 gathers the ranks' pictures and streams a preview every this many steps. */
export const PREVIEW_EVERY = 5;

/**
 * - `variations` (data parallel): `variations` pictures of seeds `seed`, `seed + 1`, …; rank r
 *   renders those whose index is r modulo the world size, so with as many variations as ranks
 *   each rank renders its own (seed + rank).
 * - `split` (model parallel): one picture of `seed`, each rank rendering a band of its rows.
 */
export type Mode = "variations" | "split";

export interface GenerateInput {
  readonly prompt: string;
  readonly seed: number;
  readonly steps: number;
  /** Side of each picture, in pixels. */
  readonly size: number;
  readonly mode: Mode;
  /** How many pictures `variations` renders (ignored by `split`). */
  readonly variations: number;
  /**
   * `latest`: a preview still waiting for a slow consumer is replaced by the next one (the seed's
   * advice for images); `all`: every preview reaches the consumer. @default "latest"
   */
  readonly previews?: "latest" | "all";
  /** Also return the final picture's raw RGB bytes as a Tensor [height, width, 3]. @default false */
  readonly raw?: boolean;
}

/** Every step: how far the request is. */
export interface Progress {
  readonly step: number;
  readonly steps: number;
  readonly progress: number;
}

/** Every {@link PREVIEW_EVERY} steps: the gathered pictures so far, blurred less as steps go by. */
export interface Preview extends Progress {
  readonly preview: Image;
  readonly worldSize: number;
}

export interface GenerateOutput {
  /** The grid of variations, or the one picture, at the request's image format. */
  readonly image: Image;
  readonly mode: Mode;
  readonly width: number;
  readonly height: number;
  /** Seed and sequence of each picture in the image, in grid order. */
  readonly pictures: readonly { readonly seed: number; readonly sequence: string }[];
  readonly steps: number;
  readonly worldSize: number;
  /** Rank 0's wall time for the whole call, in ms. */
  readonly elapsedMs: number;
  /** With `raw: true`: the image's RGB bytes, exactly as rendered. */
  readonly raw?: Tensor<"uint8">;
}

/** What one rank renders: its pictures (or band) and how its gathered buffer is laid out. */
interface Share {
  readonly scenes: readonly Scene[];
  /** The rows of each picture it renders: all of them for variations, a band for split. */
  readonly band: { readonly top: number; readonly bottom: number };
  /** Length of every rank's gathered buffer: the largest share, so all ranks send the same. */
  readonly slotBytes: number;
}

/**
 * fal's "Streaming with Gather" with real work in place of SDXL: every rank renders progressive
 * Lyapunov fractals, every {@link PREVIEW_EVERY} steps all ranks `gather` their pictures so far to
 * rank 0, which tiles them, blurs them the less the further the steps are, and streams the
 * result as a preview; then all ranks meet at a `barrier`. Rank 0 streams progress every step.
 */
export default class ParallelPreviewWorker extends DistributedWorker<
  GenerateInput,
  GenerateOutput,
  undefined,
  Progress | Preview
> {
  override async call(input: GenerateInput, ctx: CallContext): Promise<GenerateOutput> {
    const started = performance.now();
    const { steps, size, mode } = input;
    const count = mode === "split" ? 1 : input.variations;
    const share = this.shareOf(input, count);
    const { top, bottom } = share.band;
    const sums = share.scenes.map(() => new Float32Array((bottom - top) * size * 3));
    const mine = new Uint8Array(share.slotBytes);
    // Rank 0 receives into the same buffers at every gather.
    const out =
      this.rank === 0
        ? Array.from({ length: this.worldSize }, () => new Uint8Array(share.slotBytes))
        : undefined;

    let encoding: Promise<void> | undefined;
    for (let step = 0; step < steps; step++) {
      ctx.signal.throwIfAborted();
      for (const [i, scene] of share.scenes.entries()) {
        addSample(sums[i] as Float32Array, scene, { width: size, height: size, top, bottom }, step);
      }
      const progress: Progress = { step, steps, progress: (step + 1) / steps };
      // Awaited only while no preview is being encoded: the outbox keeps the order either way,
      // and waiting for an encode here would idle this rank (and, at the barrier, the others).
      if (this.rank === 0) {
        const added = this.addStreamingResult(progress);
        if (encoding === undefined) await added;
      }
      const last = step === steps - 1;
      if (!last && step % PREVIEW_EVERY !== 0) continue;

      sums.forEach((sum, i) => {
        toPixels(sum, step + 1, mine.subarray(i * sum.length, (i + 1) * sum.length));
      });
      const parts = await this.dist.gather(mine, { dst: 0, out });
      if (last) {
        // The final picture: no barrier needed, the call ends here on every rank.
        if (parts === undefined) return undefined as never; // only rank 0's return value is used
        return this.finish(input, count, parts, performance.now() - started);
      }
      if (parts !== undefined) {
        // One preview in flight at a time, so a slow consumer still holds rank 0 back.
        await encoding;
        const grid = this.assemble(input, count, parts);
        const preview = blurred(grid.pixels, grid.width, grid.height, blurOf(step, steps, size));
        // Blurred and encoded on the thread pool while the ranks render the next steps.
        // troupe turns the sharp pipeline into an encoded Image before it leaves the rank.
        encoding = this.addStreamingResult(
          { ...progress, preview: preview as Image, worldSize: this.worldSize },
          input.previews === "all" ? {} : { latestWins: "preview" },
        ).finally(() => {
          encoding = undefined;
        });
      }
      await this.dist.barrier();
    }
    // Only reached when the loop never ran.
    throw new RangeError(`Expected \`steps\` to be at least 1, got ${steps}`);
  }

  /** The scenes this rank renders, and the rows of each. */
  private shareOf(input: GenerateInput, count: number): Share {
    const { size, mode, prompt, seed } = input;
    if (mode === "split") {
      const band = bandOf(size, this.worldSize, this.rank);
      const rows = bandOf(size, this.worldSize, 0).bottom;
      return { scenes: [sceneOf(prompt, seed)], band, slotBytes: rows * size * 3 };
    }
    const scenes: Scene[] = [];
    for (let i = this.rank; i < count; i += this.worldSize) scenes.push(sceneOf(prompt, seed + i));
    const slots = Math.ceil(count / this.worldSize);
    return { scenes, band: { top: 0, bottom: size }, slotBytes: slots * size * size * 3 };
  }

  /** Rank 0: the gathered buffers as one picture (the grid of variations, or the bands stacked). */
  private assemble(
    input: GenerateInput,
    count: number,
    parts: readonly Uint8Array[],
  ): { pixels: Uint8Array; width: number; height: number } {
    const { size } = input;
    if (input.mode === "split") {
      const pixels = new Uint8Array(size * size * 3);
      parts.forEach((part, rank) => {
        const { top, bottom } = bandOf(size, this.worldSize, rank);
        pixels.set(part.subarray(0, (bottom - top) * size * 3), top * size * 3);
      });
      return { pixels, width: size, height: size };
    }
    // Variation i is rank i % worldSize's slot floor(i / worldSize).
    const tile = size * size * 3;
    return tileGrid(count, size, (i) => ({
      pixels: parts[i % this.worldSize] as Uint8Array,
      offset: Math.floor(i / this.worldSize) * tile,
    }));
  }

  private finish(
    input: GenerateInput,
    count: number,
    parts: readonly Uint8Array[],
    elapsedMs: number,
  ): GenerateOutput {
    const { pixels, width, height } = this.assemble(input, count, parts);
    const seeds = Array.from({ length: count }, (_, i) => input.seed + i);
    return {
      image: Image.fromPixels(pixels, { width, height, channels: 3 }),
      mode: input.mode,
      width,
      height,
      pictures: seeds.map((seed) => ({ seed, sequence: sceneOf(input.prompt, seed).sequence })),
      steps: input.steps,
      worldSize: this.worldSize,
      elapsedMs,
      ...(input.raw === true ? { raw: new Tensor(pixels, [height, width, 3]) } : {}),
    };
  }
}
