/**
 * The preview rank 0 streams while a page is read: the page, at most 1024 px wide, with the boxes
 * read so far outlined. It is a sharp pipeline, which troupe encodes (JPEG) on libuv's thread pool
 * before it leaves the rank.
 */
import sharp from "sharp";
import type { Point, RgbaImage } from "./text-boxes.ts";

const MAX_WIDTH = 1024;

/** The page with `boxes` (in page pixels) drawn on it, as a sharp pipeline. */
export function previewOf(page: RgbaImage, boxes: readonly (readonly Point[])[]): sharp.Sharp {
  const scale = Math.min(1, MAX_WIDTH / page.width);
  const width = Math.round(page.width * scale);
  const height = Math.round(page.height * scale);
  const polygons = boxes
    .map((box) => {
      const points = box.map(([x, y]) => `${(x * scale).toFixed(1)},${(y * scale).toFixed(1)}`);
      return `<polygon points="${points.join(" ")}"/>`;
    })
    .join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g fill="rgba(0,160,255,0.15)" stroke="#e0218a" stroke-width="2">${polygons}</g></svg>`;
  // sharp resizes before it composites, whatever the call order: the outlines are drawn at the
  // preview's size.
  return sharp(page.data, { raw: { width: page.width, height: page.height, channels: 4 } })
    .resize({ width, height, fit: "fill" })
    .composite([{ input: Buffer.from(svg) }])
    .removeAlpha();
}
