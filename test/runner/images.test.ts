import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DistributedRunner,
  Image,
  StreamedError,
  Tensor,
  WorkerCallError,
} from "../../src/index.ts";
import type ImageWorker from "../fixtures/image-worker.ts";
import { collect } from "../helpers.ts";

const runner = new DistributedRunner<ImageWorker>({
  worker: new URL("../fixtures/image-worker.ts", import.meta.url),
  worldSize: 1,
  gpus: [],
});
beforeAll(() => runner.start());
afterAll(() => runner.stop());

let png: Uint8Array;
beforeAll(async () => {
  const buffer = await sharp({
    create: { width: 5, height: 3, channels: 3, background: "#123456" },
  })
    .png()
    .toBuffer();
  png = new Uint8Array(buffer);
});

async function decoded(image: Image) {
  return sharp(image.bytes).metadata();
}

describe("images and tensors in results", () => {
  it("reach an object-mode consumer as encoded Images (JPEG quality 60 while streaming) and Tensors", async () => {
    const events = (await collect(runner.stream({ op: "kinds", png }))) as Record<
      string,
      unknown
    >[];
    expect(events.map((e) => e.step ?? "final")).toEqual([0, 1, 2, 3, 4, 5, "final"]);

    const preview = events[0]?.preview as Image;
    expect(preview).toBeInstanceOf(Image);
    expect(preview).toMatchObject({ contentType: "image/jpeg", width: 32, height: 16 });
    expect(await decoded(preview)).toMatchObject({ format: "jpeg", width: 32, height: 16 });

    const nested = events[2]?.nested as { sharp: Image }[];
    const fromSharp = nested[0]?.sharp as Image;
    expect(fromSharp).toMatchObject({ contentType: "image/jpeg", width: 8, height: 4 });

    // Already encoded: passed through byte for byte.
    const encoded = events[3]?.encoded as Image;
    expect(encoded).toMatchObject({ contentType: "image/png", width: 5, height: 3 });
    expect(Buffer.from(encoded.bytes).equals(Buffer.from(png))).toBe(true);

    const tensor = events[4]?.tensor as Tensor;
    expect(tensor).toBeInstanceOf(Tensor);
    expect(tensor.shape).toEqual([3, 2]);
    expect([...tensor.data]).toEqual([1, 2, 3, 4, 5, 6]);

    expect(events[5]?.webp).toMatchObject({ contentType: "image/webp", width: 4, height: 4 });
    const final = events[6]?.final as Image;
    expect(final).toMatchObject({ contentType: "image/jpeg", width: 24, height: 12 });
  });

  it("encodes the final result's images in the request's imageFormat", async () => {
    const output = (await runner.invoke({ op: "kinds", png }, { imageFormat: "png" })) as {
      final: Image;
    };
    expect(output.final).toMatchObject({ contentType: "image/png", width: 24, height: 12 });
    expect(await decoded(output.final)).toMatchObject({ format: "png", width: 24, height: 12 });
  });

  it("become fal's image shape and .npy tensors in text events", async () => {
    const chunks = await collect(runner.stream({ op: "kinds", png }, { asTextEvents: true }));
    const events = chunks.map((chunk) => {
      const text = new TextDecoder().decode(chunk as Uint8Array);
      expect(text.startsWith("data: ")).toBe(true);
      return JSON.parse(text.slice(6));
    });
    expect(events[0].preview).toMatchObject({ content_type: "image/jpeg", width: 32, height: 16 });
    expect(events[0].preview.url).toMatch(/^data:image\/jpeg;base64,\/9j\//);
    expect(events[3].encoded.url).toBe(
      `data:image/png;base64,${Buffer.from(png).toString("base64")}`,
    );
    expect(events[4].tensor).toMatchObject({
      content_type: "application/x-npy",
      shape: [3, 2],
      dtype: "float32",
    });
    expect(events[4].tensor.url).toMatch(/^data:application\/x-npy;base64,/);
  });

  it("keep their order among results added without awaiting, errors included", async () => {
    const events = await collect(runner.stream({ op: "interleaved", count: 40 }));
    const indices = events.slice(0, 40).map((e) => (e as { i: number }).i);
    expect(indices).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect((events[0] as { image: Image }).image).toBeInstanceOf(Image);
    expect(events[40]).toBeInstanceOf(StreamedError);
    expect(events[41]).toEqual({ count: 40 });
  });

  it("fail the request with the encoder's error when an image cannot be encoded, after the results before it", async () => {
    const received: unknown[] = [];
    const error = await (async () => {
      for await (const event of runner.stream({ op: "badImage" })) received.push(event);
    })().catch((e: unknown) => e);
    expect(received).toEqual([{ before: true }]);
    expect(error).toBeInstanceOf(WorkerCallError);
    expect((error as Error).message).toMatch(
      /Rank 0 failed: .*(unsupported image format|Input buffer)/i,
    );
    await expect(runner.invoke({ op: "interleaved", count: 2 })).resolves.toEqual({ count: 2 });
  });

  it("throttle: the first preview at once, then at most one per interval, and always the last one", async () => {
    const events = (await collect(
      runner.stream({ op: "throttled", count: 1000, interval: 60_000 }),
    )) as Record<string, unknown>[];
    // With a one-minute interval, only the first preview goes out during the call, and the newest
    // one when the call ends; every unthrottled result arrives. (No latestWins key here: with one,
    // the runner would also replace the first preview if the consumer had not read it yet.)
    const previews = events.filter((e) => "preview" in e);
    expect(previews.map((e) => e.preview)).toEqual([0, 999]);
    expect(previews[1]?.image).toBeInstanceOf(Image);
    const progress = events.filter((e) => "progress" in e).map((e) => e.progress);
    expect(progress).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(events.at(-1)).toEqual({ done: true });
  });

  it("rejects a bad throttle or every where the worker added the result", async () => {
    await expect(runner.stream({ op: "badThrottle" }).done()).resolves.toEqual([
      "InvalidArgumentError: Expected `throttle` to be a non-negative number of ms, got -1",
      "InvalidArgumentError: Expected `every` to be a positive integer, got 0",
      "InvalidArgumentError: Give `throttle` or `every`, not both",
    ]);
  });

  it("every: sends every n-th step, and the last step when the call ends", async () => {
    const events = await collect(runner.stream({ op: "every", count: 23, every: 5 }));
    expect(events).toEqual([
      { step: 0 },
      { step: 5 },
      { step: 10 },
      { step: 15 },
      { step: 20 },
      { step: 22 },
      { done: true },
    ]);
  });
});
