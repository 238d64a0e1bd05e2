import sharp from "sharp";
import { Image } from "../../src/index.ts";

/** Columns and rows of a grid of `count` tiles: as square as it gets, wider than tall. */
export function gridShape(count: number): { columns: number; rows: number } {
  const columns = Math.ceil(Math.sqrt(count));
  return { columns, rows: Math.ceil(count / columns) };
}

/**
 * Copies `count` square RGB tiles of side `size` into one grid picture. `tileAt(i)` gives tile
 * `i`'s pixels and where they start (tiles arrive packed in gathered buffers). Cells past the
 * last tile stay black.
 */
export function tileGrid(
  count: number,
  size: number,
  tileAt: (i: number) => { readonly pixels: Uint8Array; readonly offset: number },
): { pixels: Uint8Array; width: number; height: number } {
  const { columns, rows } = gridShape(count);
  const width = columns * size;
  const height = rows * size;
  const pixels = new Uint8Array(width * height * 3);
  const row = size * 3;
  for (let i = 0; i < count; i++) {
    const { pixels: source, offset } = tileAt(i);
    const left = (i % columns) * row;
    const top = Math.floor(i / columns) * size;
    for (let y = 0; y < size; y++) {
      const from = offset + y * row;
      pixels.set(source.subarray(from, from + row), (top + y) * width * 3 + left);
    }
  }
  return { pixels, width, height };
}

/** The blur of a preview after `step` of `steps`: strong at first, gone by the last quarter. */
export function blurOf(step: number, steps: number, size: number): number {
  const left = Math.max(0, 1 - (step + 1) / (0.75 * steps));
  return (size / 24) * left * left;
}

/**
 * A preview picture: `pixels` blurred by `sigma`. Returned not yet computed, as a sharp pipeline
 * that troupe runs (blur, then JPEG) on the rank's thread pool when the result is streamed, while
 * the rank goes on rendering; below sigma 0.3, where a blur would not show, as raw pixels.
 */
export function blurred(
  pixels: Uint8Array,
  width: number,
  height: number,
  sigma: number,
): Image | sharp.Sharp {
  const size = { width, height, channels: 3 } as const;
  if (sigma < 0.3) return Image.fromPixels(pixels, size);
  return sharp(pixels, { raw: size }).blur(sigma);
}
