/** Rank 0's first step for each page: the input image as RGBA pixels. */
import sharp from "sharp";
import { type Image, InvalidPayloadError } from "../../src/index.ts";
import type { RgbaImage } from "./text-boxes.ts";

/**
 * Decodes a page (any format sharp reads, or raw pixels), turned upright by its EXIF orientation.
 * A file that does not decode — truncated, corrupt — fails with `INVALID_PAYLOAD` naming the
 * input (`name`, such as `image_urls[1]`), which fails the request and leaves the rank running.
 */
export async function decodePage(image: Image, name: string): Promise<RgbaImage> {
  const input = image.encoded
    ? sharp(image.bytes, { failOn: "error" })
    : sharp(image.bytes, {
        raw: { width: image.width, height: image.height, channels: image.channels ?? 4 },
      });
  try {
    const { data, info } = await input
      .rotate()
      .toColourspace("srgb")
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    throw new InvalidPayloadError(
      `${name} could not be decoded as an image: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
