import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistributedRunner, Image, type Tensor } from "../../src/index.ts";
import type ParallelPreviewWorker from "./worker.ts";
import type { GenerateInput, GenerateOutput, Preview, Progress } from "./worker.ts";

const worker = new URL("./worker.ts", import.meta.url);

/** The final picture's raw RGB bytes: what the ranks rendered, before any encoding. */
function rawOf(output: GenerateOutput): Uint8Array {
  const raw = output.raw as Tensor<"uint8">;
  expect(raw.shape).toEqual([output.height, output.width, 3]);
  return raw.data;
}

describe("the parallel-preview worker", () => {
  const runners: DistributedRunner<ParallelPreviewWorker>[] = [1, 2].map(
    (worldSize) => new DistributedRunner<ParallelPreviewWorker>({ worker, worldSize, gpus: [] }),
  );
  const [one, two] = runners as [
    DistributedRunner<ParallelPreviewWorker>,
    DistributedRunner<ParallelPreviewWorker>,
  ];

  beforeAll(async () => {
    await Promise.all(runners.map((runner) => runner.start({ timeout: 60_000 })));
  });

  afterAll(async () => {
    await Promise.all(runners.map((runner) => runner.stop()));
  });

  const base = { prompt: "A sunset", seed: 5, raw: true } as const;

  it("renders one picture split into bands on two ranks byte for byte as one rank renders it", async () => {
    // 37 rows: bands of 19 and 18, so the gathered buffers carry a padding row.
    const input: GenerateInput = { ...base, mode: "split", steps: 7, size: 37, variations: 1 };
    const [alone, split] = await Promise.all([one.invoke(input), two.invoke(input)]);
    expect([split.width, split.height, split.worldSize, alone.worldSize]).toEqual([37, 37, 2, 1]);
    expect(Buffer.from(rawOf(split)).equals(Buffer.from(rawOf(alone)))).toBe(true);
    // Not a blank picture that would match anything.
    expect(new Set(rawOf(split)).size).toBeGreaterThan(50);
  });

  it("renders the same grid of variations on two ranks as on one", async () => {
    const input: GenerateInput = { ...base, mode: "variations", steps: 3, size: 16, variations: 3 };
    const [alone, spread] = await Promise.all([one.invoke(input), two.invoke(input)]);
    expect(Buffer.from(rawOf(spread)).equals(Buffer.from(rawOf(alone)))).toBe(true);
  });

  it("streams progress every step, a gathered preview every 5 steps, then the final grid", async () => {
    const input: GenerateInput = {
      prompt: "An ocean",
      seed: 9,
      mode: "variations",
      steps: 12,
      size: 24,
      variations: 3,
      previews: "all",
    };
    const stream = two.stream(input);
    const progress: number[] = [];
    const previews: Preview[] = [];
    for await (const item of stream) {
      const event = item as Progress | Preview | GenerateOutput;
      if ("preview" in event) previews.push(event);
      else if ("progress" in event) progress.push(event.step);
    }
    const final = await stream.done();

    expect(progress).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(previews.map((p) => p.step)).toEqual([0, 5, 10]);
    for (const { preview, worldSize, progress } of previews) {
      expect(preview).toBeInstanceOf(Image);
      // Three 24-pixel variations tile a 2x2 grid.
      expect([preview.contentType, preview.width, preview.height]).toEqual(["image/jpeg", 48, 48]);
      expect(worldSize).toBe(2);
      expect(progress).toBeGreaterThan(0);
    }
    expect(new Set(previews.map((p) => Buffer.from(p.preview.bytes).toString("base64"))).size).toBe(
      3,
    );
    expect(final.image.contentType).toBe("image/jpeg");
    expect([final.width, final.height, final.image.width, final.image.height]).toEqual([
      48, 48, 48, 48,
    ]);
    expect(final.pictures.map((p) => p.seed)).toEqual([9, 10, 11]);
    expect(final.raw).toBeUndefined();
  });

  it("encodes the final picture in the format the request asks for", async () => {
    const input: GenerateInput = { ...base, mode: "split", steps: 2, size: 20, variations: 1 };
    const output = await two.invoke(input, { imageFormat: "png" });
    expect([output.image.contentType, output.image.width]).toEqual(["image/png", 20]);
  });
});
