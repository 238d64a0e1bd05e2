/**
 * Text detection with PP-OCRv4's DB model: the page resized to a multiple of 32 on each side,
 * normalised as PaddleOCR does, one run of the model, and the probability map turned into
 * boxes (text-boxes.ts).
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

/** The page as the detector's input tensor, [1, 3, H, W] in B, G, R planes. */
export async function detectionInput(page: RgbaImage): Promise<Tensor> {
  const size = detectionSize(page.width, page.height);
  const { data } = await sharp(page.data, {
    raw: { width: page.width, height: page.height, channels: 4 },
  })
    .removeAlpha()
    .resize({ ...size, fit: "fill" })
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

/** The text boxes of `page`, in no particular order. */
export async function detectBoxes(session: InferenceSession, page: RgbaImage): Promise<Box[]> {
  const input = await detectionInput(page);
  const outputs = await session.run({ [session.inputNames[0] as string]: input });
  const map = outputs[session.outputNames[0] as string] as Tensor;
  const [, , height, width] = map.dims as [number, number, number, number];
  return await textBoxes(map.data as Float32Array, { width, height }, page, MASK_THRESHOLD);
}
