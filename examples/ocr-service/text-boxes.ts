/**
 * From the detector's text-probability map to text boxes, and from a box to its upright crop:
 * PaddleOCR's DB post-processing (`boxes_from_bitmap`, `unclip`) and `get_rotate_crop_image`, on
 * OpenCV. Boxes are found on rank 0; every rank crops its own lines from its own decoded copy of
 * the page, so only the boxes travel between ranks.
 *
 * `@gutenye/ocr-common` has these steps in `splitIntoLineImages`, and this file follows it, but
 * it is not used: it never frees its OpenCV Mats, so the WebAssembly heap grows with every page
 * (134 MB to 268 MB within 60 pages of 40 lines, measured), and when the heap grows the crops it
 * returned — views into that heap — are detached and read as empty. Here every Mat is deleted and
 * every crop is copied out of the heap at once.
 */
import { createRequire } from "node:module";

/**
 * OpenCV's Emscripten module is itself a thenable (`cv.then`), so whatever awaits it — a dynamic
 * `import()` whose loader unwraps the CommonJS default, as vitest's does — waits forever. A plain
 * `require` hands it over without awaiting it.
 */
const cv = createRequire(import.meta.url)(
  "@techstark/opencv-js",
) as typeof import("@techstark/opencv-js");

/** RGBA pixels, row-major. */
export interface RgbaImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A point `[x, y]` in page pixels. */
export type Point = readonly [number, number];

/** A text box: four corners clockwise from the top-left, in page pixels. */
export type Box = readonly [Point, Point, Point, Point];

/** PaddleOCR's DB defaults. */
const MIN_SIDE = 3;
const BOX_THRESHOLD = 0.6;
const UNCLIP_RATIO = 1.5;
const MAX_CANDIDATES = 1000;

let ready: Promise<void> | undefined;

/**
 * Resolves once OpenCV's WebAssembly runtime is initialised (about half a second after the
 * import); a worker's `setup()` awaits it.
 */
export function openCvReady(): Promise<void> {
  ready ??= new Promise<void>((resolve) => {
    const module = cv as unknown as { Mat?: unknown; onRuntimeInitialized?: () => void };
    if (typeof module.Mat === "function") resolve();
    else module.onRuntimeInitialized = () => resolve();
  });
  return ready;
}

interface RotatedRect {
  readonly center: { readonly x: number; readonly y: number };
  readonly size: { readonly width: number; readonly height: number };
  readonly angle: number;
}

/** The corners of a rotated rectangle, ordered top-left, top-right, bottom-right, bottom-left. */
function cornersOf(rect: RotatedRect): [Point, Point, Point, Point] {
  const theta = (rect.angle * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const dx = rect.size.width / 2;
  const dy = rect.size.height / 2;
  const { x, y } = rect.center;
  const points: Point[] = [
    [x - dx * cos + dy * sin, y - dx * sin - dy * cos] as const,
    [x + dx * cos + dy * sin, y + dx * sin - dy * cos] as const,
    [x + dx * cos - dy * sin, y + dx * sin + dy * cos] as const,
    [x - dx * cos - dy * sin, y - dx * sin + dy * cos] as const,
  ].sort((a, b) => a[0] - b[0]);
  // PaddleOCR's get_mini_boxes: of the two leftmost the upper is top-left, of the two rightmost
  // the upper is top-right.
  const [l1, l2, r1, r2] = points as [Point, Point, Point, Point];
  const [tl, bl] = l1[1] <= l2[1] ? [l1, l2] : [l2, l1];
  const [tr, br] = r1[1] <= r2[1] ? [r1, r2] : [r2, r1];
  return [tl, tr, br, bl];
}

/** Mean probability inside a convex quadrilateral (PaddleOCR's `box_score_fast`). */
function boxScore(
  probabilities: Float32Array,
  width: number,
  height: number,
  quad: readonly Point[],
): number {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!inside(quad, x, y)) continue;
      sum += probabilities[y * width + x] as number;
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** Whether (x, y) is inside or on a convex quadrilateral given clockwise (in image axes). */
function inside(quad: readonly Point[], x: number, y: number): boolean {
  for (let i = 0; i < 4; i++) {
    const [ax, ay] = quad[i] as Point;
    const [bx, by] = quad[(i + 1) % 4] as Point;
    if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) < -1e-6) return false;
  }
  return true;
}

/** Copies a Mat's pixels out of the WebAssembly heap, as RGBA. */
function toRgba(mat: InstanceType<typeof cv.Mat>): RgbaImage {
  return { data: Uint8Array.from(mat.data), width: mat.cols, height: mat.rows };
}

/**
 * Crops lines out of one page: the page is copied into OpenCV's heap once, for all its crops.
 * `delete()` frees it.
 */
export class PageCropper {
  readonly #page: InstanceType<typeof cv.Mat>;

  /** Call after {@link openCvReady}. */
  constructor(page: RgbaImage) {
    this.#page = cv.matFromImageData({ data: page.data, width: page.width, height: page.height });
  }

  /** The box's crop, upright. */
  crop(box: Box): RgbaImage {
    return cropOf(this.#page, box);
  }

  delete(): void {
    this.#page.delete();
  }
}

/** PaddleOCR's `get_rotate_crop_image`: the box warped upright, turned if it stands tall. */
function cropOf(page: InstanceType<typeof cv.Mat>, box: Box): RgbaImage {
  const [tl, tr, br, bl] = box;
  const width = Math.trunc(
    Math.max(Math.hypot(tl[0] - tr[0], tl[1] - tr[1]), Math.hypot(bl[0] - br[0], bl[1] - br[1])),
  );
  const height = Math.trunc(
    Math.max(Math.hypot(tl[0] - bl[0], tl[1] - bl[1]), Math.hypot(tr[0] - br[0], tr[1] - br[1])),
  );
  const src = cv.matFromArray(4, 1, cv.CV_32FC2, box.flat());
  const dst = cv.matFromArray(4, 1, cv.CV_32FC2, [0, 0, width, 0, width, height, 0, height]);
  const transform = cv.getPerspectiveTransform(src, dst);
  const warped = new cv.Mat();
  const turned = new cv.Mat();
  try {
    cv.warpPerspective(
      page,
      warped,
      transform,
      new cv.Size(width, height),
      cv.INTER_CUBIC,
      cv.BORDER_REPLICATE,
    );
    if (height / width < 1.5) return toRgba(warped);
    cv.rotate(warped, turned, cv.ROTATE_90_COUNTERCLOCKWISE);
    return toRgba(turned);
  } finally {
    for (const mat of [src, dst, transform, warped, turned]) mat.delete();
  }
}

/** Where a probability map lies in the detector's input, when it covers a band of its rows. */
export interface MapBand {
  /** The input's full height (the page's rows at the model's scale). */
  readonly fullHeight: number;
  /** The input row the map's first row is. */
  readonly top: number;
  /** Whether a region whose centre is at this input row is kept. */
  readonly keep: (centreY: number) => boolean;
}

/**
 * The text boxes in a probability map (`probabilities`, `size` the detector's input size, or of
 * the band of it that `band` places), in the pixels of a page of `page` size. `threshold` makes
 * the map a mask; a region whose mean probability is under 0.6 is not text.
 */
export async function textBoxes(
  probabilities: Float32Array,
  size: { readonly width: number; readonly height: number },
  page: { readonly width: number; readonly height: number },
  threshold: number,
  band?: MapBand,
): Promise<Box[]> {
  await openCvReady();
  const { width, height } = size;
  const maskBytes = new Uint8Array(width * height);
  for (let i = 0; i < maskBytes.length; i++) {
    maskBytes[i] = (probabilities[i] as number) > threshold ? 255 : 0;
  }
  const mask = cv.matFromArray(height, width, cv.CV_8UC1, maskBytes);
  const contours = new cv.MatVector();
  const hierarchy = new cv.Mat();
  try {
    cv.findContours(mask, contours, hierarchy, cv.RETR_LIST, cv.CHAIN_APPROX_SIMPLE);
    const top = band?.top ?? 0;
    const scaleX = page.width / width;
    const scaleY = page.height / (band?.fullHeight ?? height);
    const boxes: Box[] = [];
    for (let i = 0; i < Math.min(contours.size(), MAX_CANDIDATES); i++) {
      const contour = contours.get(i);
      let rect: RotatedRect;
      try {
        rect = cv.minAreaRect(contour) as RotatedRect;
      } finally {
        contour.delete();
      }
      if (band !== undefined && !band.keep(rect.center.y + top)) continue;
      const { width: w, height: h } = rect.size;
      if (Math.min(w, h) < MIN_SIDE) continue;
      if (boxScore(probabilities, width, height, cornersOf(rect)) < BOX_THRESHOLD) continue;
      // DB's unclip: the shrunk region grown back by area * ratio / perimeter on every side.
      // (The offset polygon's minimal rectangle is the rectangle grown by that distance.)
      const grow = (w * h * UNCLIP_RATIO) / (2 * (w + h));
      const grown = { ...rect, size: { width: w + 2 * grow, height: h + 2 * grow } };
      if (Math.min(grown.size.width, grown.size.height) < MIN_SIDE + 2) continue;
      const box = cornersOf(grown).map(
        ([x, y]) =>
          [
            Math.min(page.width, Math.max(0, Math.round(x * scaleX))),
            Math.min(page.height, Math.max(0, Math.round((y + top) * scaleY))),
          ] as const,
      ) as [Point, Point, Point, Point];
      const [tl, tr, , bl] = box;
      if (
        Math.hypot(tl[0] - tr[0], tl[1] - tr[1]) <= 3 ||
        Math.hypot(tl[0] - bl[0], tl[1] - bl[1]) <= 3
      ) {
        continue;
      }
      boxes.push(box);
    }
    return boxes;
  } finally {
    for (const mat of [mask, contours, hierarchy]) mat.delete();
  }
}
