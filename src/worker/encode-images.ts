/**
 * Encodes the images in a result before it leaves the rank: raw-pixel `Image`s and `sharp`
 * instances become encoded `Image`s (sharp works on libuv's thread pool, so the rank's event loop
 * keeps running). Encoded images pass through untouched. The process relaying events then only
 * base64-encodes bytes; it never runs an image encoder.
 */
import { contentTypeOf, Image, type ImageFormat } from "../encoding/image.ts";

export interface ImageEncoding {
  readonly format: ImageFormat;
  readonly quality: number;
}

/** Intermediate results: small and fast, as the seed recommends for previews. */
export const PREVIEW_ENCODING: ImageEncoding = { format: "jpeg", quality: 60 };

/** The final result's images, in the format the request asked for. */
export function finalEncoding(format: ImageFormat = "jpeg"): ImageEncoding {
  return { format, quality: format === "jpeg" ? 95 : 90 };
}

/** An intermediate result's images: JPEG quality 60 unless the result asked for a format. */
export function previewEncoding(format: ImageFormat | undefined): ImageEncoding {
  return format === undefined || format === "jpeg" ? PREVIEW_ENCODING : { format, quality: 80 };
}

interface SharpLike {
  clone(): SharpLike;
  toFormat(format: ImageFormat, options: { quality: number }): SharpLike;
  toBuffer(options: {
    resolveWithObject: true;
  }): Promise<{ data: Buffer; info: { width: number; height: number } }>;
}

function isSharp(value: object): value is SharpLike {
  const candidate = value as Partial<SharpLike>;
  return (
    typeof candidate.toBuffer === "function" &&
    typeof candidate.clone === "function" &&
    typeof candidate.toFormat === "function" &&
    value.constructor?.name === "Sharp"
  );
}

const MAX_DEPTH = 64;

/** `true` for a raw-pixel Image or a sharp instance: what a rank encodes before sending. */
export function isUnencodedImage(value: object): boolean {
  return value instanceof Image ? !value.encoded : isSharp(value);
}

/** `true` if `value` holds a raw-pixel Image or a sharp instance anywhere in it. */
function needsEncoding(value: unknown, depth = 0): boolean {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return false;
  if (isUnencodedImage(value)) return true;
  if (value instanceof Image || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some((item) => needsEncoding(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    return false;
  }
  for (const key in value) {
    if (needsEncoding((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** A copy of `value` with every image that needs it encoded; the rest shared, not copied. */
export async function encodeImages(value: unknown, encoding: ImageEncoding): Promise<unknown> {
  if (!needsEncoding(value)) return value;
  if (value instanceof Image) return encodeImage(value, encoding);
  if (isSharp(value as object)) return encodeSharp(value as SharpLike, encoding);
  if (Array.isArray(value)) return Promise.all(value.map((item) => encodeImages(item, encoding)));
  const entries = await Promise.all(
    Object.entries(value as Record<string, unknown>).map(
      async ([key, item]) => [key, await encodeImages(item, encoding)] as const,
    ),
  );
  return Object.fromEntries(entries);
}

type Sharp = typeof import("sharp");
let sharpModule: Promise<Sharp> | undefined;

async function encodeImage(image: Image, encoding: ImageEncoding): Promise<Image> {
  // Loaded on first use: a worker that streams no images never pays for libvips.
  sharpModule ??= import("sharp").then((m) => m.default);
  const sharp = await sharpModule;
  const raw = { width: image.width, height: image.height, channels: image.channels as 1 | 3 | 4 };
  return encodeSharp(sharp(image.bytes, { raw }) as unknown as SharpLike, encoding);
}

async function encodeSharp(instance: SharpLike, encoding: ImageEncoding): Promise<Image> {
  const { data, info } = await instance
    .clone()
    .toFormat(encoding.format, { quality: encoding.quality })
    .toBuffer({ resolveWithObject: true });
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return Image.restore(info.width, info.height, contentTypeOf(encoding.format), undefined, bytes);
}
