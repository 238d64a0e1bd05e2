/**
 * The preview rank 0 streams while a page is read: the page, at most 640 px wide, with the boxes
 * read so far outlined. The page is scaled once (sharp); each preview copies that and draws the
 * outlines into the pixels here, and troupe encodes it (JPEG, on libuv's thread pool). Drawing
 * the boxes as SVG through sharp instead cost about 130 ms of CPU per preview of a 40-line page,
 * taken from the very cores the ranks read lines on.
 */
import sharp from "sharp";
import { Image } from "../../src/index.ts";
import type { Point, RgbaImage } from "./text-boxes.ts";

const MAX_WIDTH = 640;
const OUTLINE = [224, 33, 138] as const;

/** A page scaled for previews, and the factor from page pixels to preview pixels. */
export interface PreviewBase {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly scale: number;
}

/** The page at preview size, RGB. */
export async function previewBase(page: RgbaImage): Promise<PreviewBase> {
  const scale = Math.min(1, MAX_WIDTH / page.width);
  const width = Math.max(1, Math.round(page.width * scale));
  const height = Math.max(1, Math.round(page.height * scale));
  const rgb = await sharp(page.data, {
    raw: { width: page.width, height: page.height, channels: 4 },
  })
    .removeAlpha()
    .resize({ width, height, fit: "fill" })
    .raw()
    .toBuffer();
  return { rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength), width, height, scale };
}

/** The preview with `boxes` (in page pixels) outlined, as raw pixels troupe encodes. */
export function previewOf(base: PreviewBase, boxes: readonly (readonly Point[])[]): Image {
  const pixels = base.rgb.slice();
  const plot = (x: number, y: number) => {
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const px = x + dx;
        const py = y + dy;
        if (px < 0 || py < 0 || px >= base.width || py >= base.height) continue;
        const at = (py * base.width + px) * 3;
        pixels[at] = OUTLINE[0];
        pixels[at + 1] = OUTLINE[1];
        pixels[at + 2] = OUTLINE[2];
      }
    }
  };
  for (const box of boxes) {
    for (let i = 0; i < box.length; i++) {
      const [x0, y0] = box[i] as Point;
      const [x1, y1] = box[(i + 1) % box.length] as Point;
      line(x0 * base.scale, y0 * base.scale, x1 * base.scale, y1 * base.scale, plot);
    }
  }
  return Image.fromPixels(pixels, { width: base.width, height: base.height, channels: 3 });
}

/** The pixels of a straight line from (x0, y0) to (x1, y1), one per step along its longer axis. */
function line(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  plot: (x: number, y: number) => void,
): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  for (let s = 0; s <= steps; s++) {
    plot(Math.round(x0 + ((x1 - x0) * s) / steps), Math.round(y0 + ((y1 - y0) * s) / steps));
  }
}
