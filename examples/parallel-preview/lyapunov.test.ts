import { describe, expect, it } from "vitest";
import { blurOf, gridShape, tileGrid } from "./grid.ts";
import { addSample, bandOf, sceneOf, toPixels } from "./lyapunov.ts";

/** The picture after `steps` samples, rendered band by band in `parts` bands. */
function render(prompt: string, seed: number, size: number, steps: number, parts = 1): Uint8Array {
  const scene = sceneOf(prompt, seed);
  const pixels = new Uint8Array(size * size * 3);
  for (let part = 0; part < parts; part++) {
    const { top, bottom } = bandOf(size, parts, part);
    const sum = new Float32Array((bottom - top) * size * 3);
    for (let step = 0; step < steps; step++) {
      addSample(sum, scene, { width: size, height: size, top, bottom }, step);
    }
    pixels.set(toPixels(sum, steps), top * size * 3);
  }
  return pixels;
}

const meanAbsoluteDifference = (a: Uint8Array, b: Uint8Array) =>
  a.reduce((total, value, i) => total + Math.abs(value - (b[i] as number)), 0) / a.length;

describe("the Lyapunov renderer", () => {
  it("gives the same scene for the same prompt and seed, and another for another seed", () => {
    expect(sceneOf("A sunset", 7)).toEqual(sceneOf("A sunset", 7));
    expect(sceneOf("A sunset", 8)).not.toEqual(sceneOf("A sunset", 7));
    expect(sceneOf("An ocean", 7)).not.toEqual(sceneOf("A sunset", 7));
  });

  it("renders the same bytes every time for a seed, and different ones for another seed", () => {
    const first = render("A sunset", 3, 24, 4);
    expect(render("A sunset", 3, 24, 4)).toEqual(first);
    expect(meanAbsoluteDifference(render("A sunset", 4, 24, 4), first)).toBeGreaterThan(5);
  });

  it("renders the same bytes whatever the split of the rows into bands", () => {
    const whole = render("forest", 11, 29, 3);
    for (const parts of [2, 3, 4, 7]) expect(render("forest", 11, 29, 3, parts)).toEqual(whole);
  });

  it("splits rows into bands that cover the picture once, the last one shorter", () => {
    expect([0, 1, 2].map((part) => bandOf(29, 3, part))).toEqual([
      { top: 0, bottom: 10 },
      { top: 10, bottom: 20 },
      { top: 20, bottom: 29 },
    ]);
  });

  it("converges: each later picture is closer to the final one", () => {
    const size = 32;
    const final = render("A sunset", 1, size, 24);
    const distances = [1, 6, 12, 18].map((steps) =>
      meanAbsoluteDifference(render("A sunset", 1, size, steps), final),
    );
    for (let i = 1; i < distances.length; i++) {
      expect(distances[i]).toBeLessThan(distances[i - 1] as number);
    }
  });
});

describe("the preview grid", () => {
  it("is as square as it gets", () => {
    expect([1, 2, 3, 4, 5, 9].map(gridShape)).toEqual([
      { columns: 1, rows: 1 },
      { columns: 2, rows: 1 },
      { columns: 2, rows: 2 },
      { columns: 2, rows: 2 },
      { columns: 3, rows: 2 },
      { columns: 3, rows: 3 },
    ]);
  });

  it("puts tile i at column i % columns and row i / columns, reading it at its offset", () => {
    // Three 2x2 tiles packed after a 1-byte header, each filled with its index + 1.
    const packed = new Uint8Array(1 + 3 * 12);
    for (let i = 0; i < 3; i++) packed.fill(i + 1, 1 + i * 12, 1 + (i + 1) * 12);
    const grid = tileGrid(3, 2, (i) => ({ pixels: packed, offset: 1 + i * 12 }));
    expect([grid.width, grid.height]).toEqual([4, 4]);
    const red = Array.from({ length: 16 }, (_, p) => grid.pixels[p * 3]);
    expect(red).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 0, 0, 3, 3, 0, 0]);
  });

  it("blurs less as the steps advance, and not at all in the last quarter", () => {
    const sigmas = Array.from({ length: 30 }, (_, step) => blurOf(step, 30, 256));
    for (let i = 1; i < sigmas.length; i++) {
      expect(sigmas[i]).toBeLessThanOrEqual(sigmas[i - 1] as number);
    }
    expect(sigmas[0]).toBeGreaterThan(8);
    expect(sigmas.slice(22)).toEqual(Array(8).fill(0));
  });
});
