import { InvalidArgumentError, InvalidPayloadError } from "../errors.ts";
import { PAYLOAD_BRAND } from "./payload-brand.ts";

/** Encodings a result's images can be sent in. */
export type ImageFormat = "jpeg" | "png" | "webp";
/** Grey, RGB or RGBA. */
export type ImageChannels = 1 | 3 | 4;

const CONTENT_TYPES: Readonly<Record<ImageFormat, string>> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
};

/**
 * An image in a result: raw pixels (`Image.fromPixels`) or encoded PNG/JPEG/WebP bytes
 * (`Image.fromEncoded`); a `sharp` instance may be given directly too. A rank encodes raw images
 * before they leave it (intermediate results as JPEG quality 60, the final result in the call's
 * `imageFormat`), so the process relaying events never encodes. In text events an image becomes
 * fal's `{ content_type, width, height, url: "data:image/jpeg;base64,…" }`; in object mode the
 * consumer gets an `Image` back.
 *
 * @example
 * this.addStreamingResult({ step, preview: Image.fromPixels(rgb, { width: 256, height: 256, channels: 3 }) });
 */
export class Image {
  static readonly [PAYLOAD_BRAND] = true;

  private constructor(
    readonly width: number,
    readonly height: number,
    /** `image/jpeg`, `image/png` or `image/webp`; `undefined` for raw pixels. */
    readonly contentType: string | undefined,
    /** Channels of raw pixels; `undefined` once encoded. */
    readonly channels: ImageChannels | undefined,
    /** The encoded file, or the raw pixels (row-major, interleaved, 8 bits per channel). */
    readonly bytes: Uint8Array,
  ) {}

  /** Raw 8-bit pixels, row-major and interleaved. */
  static fromPixels(
    pixels: Uint8Array | Uint8ClampedArray,
    size: { readonly width: number; readonly height: number; readonly channels: ImageChannels },
  ): Image {
    const { width, height, channels } = size;
    for (const [name, value] of [
      ["width", width],
      ["height", height],
    ] as const) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new InvalidArgumentError(
          `Expected \`${name}\` to be a positive integer, got ${value}`,
        );
      }
    }
    if (channels !== 1 && channels !== 3 && channels !== 4) {
      throw new InvalidArgumentError(`Expected \`channels\` to be 1, 3 or 4, got ${channels}`);
    }
    if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) {
      throw new InvalidArgumentError("Expected `pixels` to be a Uint8Array or Uint8ClampedArray");
    }
    if (pixels.length !== width * height * channels) {
      throw new InvalidArgumentError(
        `Expected ${width}x${height}x${channels} = ${width * height * channels} bytes of pixels, got ${pixels.length}`,
      );
    }
    const bytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
    return new Image(width, height, undefined, channels, bytes);
  }

  /** Encoded PNG, JPEG or WebP bytes; the format and size are read from the file's header. */
  static fromEncoded(bytes: Uint8Array): Image {
    if (!(bytes instanceof Uint8Array)) {
      throw new InvalidArgumentError("Expected `bytes` to be a Uint8Array of PNG, JPEG or WebP");
    }
    const header = readHeader(bytes);
    return new Image(header.width, header.height, CONTENT_TYPES[header.format], undefined, bytes);
  }

  /** @internal Rebuilds an image that crossed a process boundary. */
  static restore(
    width: number,
    height: number,
    contentType: string | undefined,
    channels: ImageChannels | undefined,
    bytes: Uint8Array,
  ): Image {
    return new Image(width, height, contentType, channels, bytes);
  }

  /** `true` once the image holds an encoded file rather than raw pixels. */
  get encoded(): boolean {
    return this.contentType !== undefined;
  }

  /** The encoded file as a `data:` URL. */
  toDataUrl(): string {
    if (this.contentType === undefined) {
      throw new InvalidPayloadError(
        "A raw-pixel Image has no data URL until it is encoded (ranks encode images when they stream them)",
      );
    }
    const b64 = Buffer.from(
      this.bytes.buffer,
      this.bytes.byteOffset,
      this.bytes.byteLength,
    ).toString("base64");
    return `data:${this.contentType};base64,${b64}`;
  }

  /** fal's image shape: what a text event carries. */
  toJSON(): { content_type: string; width: number; height: number; url: string } {
    return {
      content_type: this.contentType ?? "application/octet-stream",
      width: this.width,
      height: this.height,
      url: this.toDataUrl(),
    };
  }
}

export function contentTypeOf(format: ImageFormat): string {
  return CONTENT_TYPES[format];
}

/** Format and size from the first bytes of a PNG, JPEG or WebP file. */
export function readHeader(bytes: Uint8Array): {
  format: ImageFormat;
  width: number;
  height: number;
} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (i: number) => bytes[i] ?? -1;
  try {
    if (at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47) {
      return { format: "png", width: view.getUint32(16), height: view.getUint32(20) };
    }
    if (at(0) === 0xff && at(1) === 0xd8) {
      let i = 2;
      while (i + 9 < bytes.length) {
        if (at(i) !== 0xff) {
          i++;
          continue;
        }
        const marker = at(i + 1);
        // SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
        if (
          marker >= 0xc0 &&
          marker <= 0xcf &&
          marker !== 0xc4 &&
          marker !== 0xc8 &&
          marker !== 0xcc
        ) {
          return { format: "jpeg", height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
        }
        if (
          marker === 0xd8 ||
          marker === 0x01 ||
          (marker >= 0xd0 && marker <= 0xd7) ||
          marker === 0xff
        ) {
          i += marker === 0xff ? 1 : 2;
          continue;
        }
        i += 2 + view.getUint16(i + 2);
      }
    }
    const fourcc = (i: number) => String.fromCharCode(at(i), at(i + 1), at(i + 2), at(i + 3));
    if (fourcc(0) === "RIFF" && fourcc(8) === "WEBP") {
      const chunk = fourcc(12);
      if (chunk === "VP8X") {
        const w = at(24) | (at(25) << 8) | (at(26) << 16);
        const h = at(27) | (at(28) << 8) | (at(29) << 16);
        return { format: "webp", width: w + 1, height: h + 1 };
      }
      if (chunk === "VP8 ") {
        return {
          format: "webp",
          width: view.getUint16(26, true) & 0x3fff,
          height: view.getUint16(28, true) & 0x3fff,
        };
      }
      if (chunk === "VP8L") {
        const bits = view.getUint32(21, true);
        return { format: "webp", width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
      }
    }
  } catch {
    // A truncated header: reported below.
  }
  throw new InvalidPayloadError(
    "Expected the bytes of a PNG, JPEG or WebP image; the header is not one of them (or is truncated)",
  );
}
