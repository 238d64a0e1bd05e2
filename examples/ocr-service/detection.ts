/**
 * Text detection with PP-OCRv4's DB model: the page resized to a multiple of 32 on each side,
 * normalised as PaddleOCR does, one run of the model, and the probability map turned into
 * boxes (text-boxes.ts).
 *
 * Several ranks can share one page: the model is fully convolutional, so each runs it on a band
 * of the resized page's rows (with {@link BAND_OVERLAP} rows of the neighbouring bands for
 * context) and keeps the boxes whose centre lies in its own rows. The bands' boxes together are
 * the page's, each once.
 */
import type { InferenceSession } from "onnxruntime-node";
import { Tensor } from "onnxruntime-node";
import sharp from "sharp";
import { type Box, type RgbaImage, textBoxes } from "./text-boxes.ts";

/** PaddleOCR's `det_limit_side_len`: a longer side is scaled down to this. */
export const DETECTION_MAX_SIDE = 960;
/** PaddleOCR's DB `thresh`: a pixel whose text probability passes it is text. */
const MASK_THRESHOLD = 0.3;
/** ImageNet's mean and deviation, applied to B, G, R in that order, as PaddleOCR's det does. */
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** The detector's input size for a page: both sides multiples of 32, the longer at most 960. */
export function detectionSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, DETECTION_MAX_SIDE / Math.max(width, height));
  const round = (side: number) => Math.max(32, Math.round((side * scale) / 32) * 32);
  return { width: round(width), height: round(height) };
}

/**
 * Rows of the detector's input each band adds above and below its own, at the model's scale: a
 * line whose centre is in a band's rows lies inside what that band's run sees if it is under
 * twice this tall (on a 1,400 px page scaled to 960 rows, text up to about 190 px high), with
 * context the width of the model's deepest stride on either side.
 */
export const BAND_OVERLAP = 64;

/** One band of the detector's input rows: what its run sees, and the rows whose boxes it keeps. */
export interface DetectionBand {
  /** The rows the model runs on, `[top, bottom)`, multiples of 32 (as the model needs). */
  readonly top: number;
  readonly bottom: number;
  /** The rows whose boxes are this band's (by their centre), `[ownTop, ownBottom)`. */
  readonly ownTop: number;
  readonly ownBottom: number;
}

/**
 * Band `index` of `count` over `height` input rows (a multiple of 32): the rows cut into runs of
 * whole 32-row blocks as even as they go, each widened by {@link BAND_OVERLAP} on both sides. A
 * band may own no rows (more bands than blocks); its run is then skipped.
 */
export function detectionBand(height: number, index: number, count: number): DetectionBand {
  const blocks = height / 32;
  const cut = (i: number) => Math.round((blocks * i) / count) * 32;
  const ownTop = cut(index);
  const ownBottom = cut(index + 1);
  return {
    top: Math.max(0, ownTop - BAND_OVERLAP),
    bottom: Math.min(height, ownBottom + BAND_OVERLAP),
    ownTop,
    ownBottom,
  };
}

/**
 * The band's rows of the page, scaled to `full` (its {@link detectionSize}), as the detector's
 * input tensor, [1, 3, bottom - top, W] in B, G, R planes.
 */
export async function detectionInput(
  page: RgbaImage,
  full: { readonly width: number; readonly height: number },
  { top, bottom }: DetectionBand,
): Promise<Tensor> {
  const size = { width: full.width, height: bottom - top };
  const { data } = await sharp(page.data, {
    raw: { width: page.width, height: page.height, channels: 4 },
  })
    .removeAlpha()
    .resize({ ...full, fit: "fill" })
    .extract({ left: 0, top, width: full.width, height: size.height })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = size.width * size.height;
  const input = new Float32Array(3 * plane);
  // Plane c is B, G, R: pixel channel 2 - c.
  for (let c = 0; c < 3; c++) {
    const mean = MEAN[c] as number;
    const std = STD[c] as number;
    const offset = c * plane;
    for (let i = 0; i < plane; i++) {
      input[offset + i] = ((data[i * 3 + 2 - c] as number) / 255 - mean) / std;
    }
  }
  return new Tensor("float32", input, [1, 3, size.height, size.width]);
}

/**
 * The text boxes of `page`, in no particular order: all of them, or those whose centre is in
 * `band` of `bands` (see {@link detectionBand}).
 */
export async function detectBoxes(
  session: InferenceSession,
  page: RgbaImage,
  share: { readonly band: number; readonly bands: number } = { band: 0, bands: 1 },
): Promise<Box[]> {
  const full = detectionSize(page.width, page.height);
  const band = detectionBand(full.height, share.band, share.bands);
  if (band.ownBottom === band.ownTop) return [];
  const input = await detectionInput(page, full, band);
  const outputs = await session.run({ [session.inputNames[0] as string]: input });
  const map = outputs[session.outputNames[0] as string] as Tensor;
  const [, , height, width] = map.dims as [number, number, number, number];
  return await textBoxes(map.data as Float32Array, { width, height }, page, MASK_THRESHOLD, {
    fullHeight: full.height,
    top: band.top,
    keep: (centreY) => centreY >= band.ownTop && centreY < band.ownBottom,
  });
}
