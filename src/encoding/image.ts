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
 * An image in a result or an input: raw pixels (`Image.fromPixels`), encoded PNG/JPEG/WebP bytes
 * (`Image.fromEncoded`), or a data URL or bytes of any format sharp reads (`Image.fromDataUrl`,
 * `Image.fromBytes`); in a result a `sharp` instance may be given directly too. A rank encodes raw images
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

  /**
   * An image from a `data:` URL, base64 (`data:image/png;base64,…`) or percent-encoded
   * (`data:image/svg+xml,…`), in any format sharp reads; see {@link Image.fromBytes}. The URL's
   * media type is not trusted: the bytes say what they are.
   */
  static async fromDataUrl(url: string, options: DecodeOptions = {}): Promise<Image> {
    return await Image.fromBytes(parseDataUrl(url).bytes, options);
  }

  /**
   * An image from encoded bytes of any format sharp reads: PNG, JPEG and WebP stay as they are
   * (their bytes are sent on unchanged); GIF (its first frame), TIFF, AVIF, HEIF, SVG and the
   * rest are decoded to raw RGB or RGBA pixels, which a rank encodes when it streams them.
   * Rejects with `INVALID_PAYLOAD` when sharp cannot read the bytes or the image has more than
   * `maxPixels` pixels.
   */
  static async fromBytes(bytes: Uint8Array, options: DecodeOptions = {}): Promise<Image> {
    if (!(bytes instanceof Uint8Array)) {
      throw new InvalidArgumentError("Expected `bytes` to be a Uint8Array of an encoded image");
    }
    const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    if (!Number.isSafeInteger(maxPixels) || maxPixels <= 0) {
      throw new InvalidArgumentError(
        `Expected \`maxPixels\` to be a positive integer, got ${maxPixels}`,
      );
    }
    const sharp = await loadSharp();
    let meta: { format?: string; width?: number; height?: number; hasAlpha?: boolean };
    try {
      // Pixel limits are checked below, with the size in the message.
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (error) {
      throw new InvalidPayloadError("Expected the bytes of an image sharp can read", {
        cause: error,
      });
    }
    const { format, width = 0, height = 0 } = meta;
    if (width * height > maxPixels) {
      throw new InvalidPayloadError(
        `The image is ${width}x${height} = ${width * height} pixels, more than the ${maxPixels} allowed`,
      );
    }
    if (format === "png" || format === "jpeg" || format === "webp") {
      return Image.fromEncoded(bytes);
    }
    try {
      const pipeline = sharp(bytes, { limitInputPixels: maxPixels });
      const { data, info } = await (meta.hasAlpha ? pipeline.ensureAlpha() : pipeline.removeAlpha())
        .toColourspace("srgb")
        .raw()
        .toBuffer({ resolveWithObject: true });
      return Image.fromPixels(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), {
        width: info.width,
        height: info.height,
        channels: info.channels as ImageChannels,
      });
    } catch (error) {
      throw new InvalidPayloadError(`The ${format ?? "image"} file could not be decoded`, {
        cause: error,
      });
    }
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

/** Options of {@link Image.fromBytes} and {@link Image.fromDataUrl}. */
export interface DecodeOptions {
  /** The most pixels (width × height) accepted. @default 268402689, sharp's own limit */
  readonly maxPixels?: number;
}

/** sharp's `limitInputPixels` default: 0x3FFF × 0x3FFF. */
const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

type Sharp = typeof import("sharp");
let sharpModule: Promise<Sharp> | undefined;

/** sharp, loaded on first use: this file is also part of code that never decodes an image. */
function loadSharp(): Promise<Sharp> {
  sharpModule ??= import("sharp").then((m) => m.default);
  return sharpModule;
}

/**
 * The media type and bytes of a `data:` URL (RFC 2397): `data:[<type>][;base64],<data>`, the data
 * base64 with `;base64` and percent-encoded without. Throws `INVALID_PAYLOAD` naming what is wrong.
 */
export function parseDataUrl(url: string): { mediaType: string; bytes: Uint8Array } {
  if (typeof url !== "string") {
    throw new InvalidArgumentError(`Expected a data: URL string, got ${typeof url}`);
  }
  const match = /^data:([^,]*),/i.exec(url.slice(0, 256));
  if (match === null) {
    throw new InvalidPayloadError(
      "Expected a data: URL (data:<media type>[;base64],<data>), got one that does not start so",
    );
  }
  const params = (match[1] ?? "").split(";");
  const base64 = params.at(-1)?.toLowerCase() === "base64";
  const mediaType = (params[0] ?? "").trim().toLowerCase() || "text/plain";
  const data = url.slice(match[0].length);
  if (base64) {
    const compact = data.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
      throw new InvalidPayloadError("The data: URL's base64 data is not valid base64");
    }
    return { mediaType, bytes: new Uint8Array(Buffer.from(compact, "base64")) };
  }
  return { mediaType, bytes: percentDecode(data) };
}

/** Percent-decoding to bytes (`%FF` is the byte 0xFF, not a character); other text as UTF-8. */
function percentDecode(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  const out = new Uint8Array(utf8.length);
  let n = 0;
  for (let i = 0; i < utf8.length; i++) {
    const byte = utf8[i] as number;
    if (byte !== 0x25) {
      out[n++] = byte;
      continue;
    }
    const hex = String.fromCharCode(utf8[i + 1] ?? 0, utf8[i + 2] ?? 0);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
      throw new InvalidPayloadError(
        `The data: URL's data is not valid percent-encoding: "%" at ${i} is not followed by two hex digits`,
      );
    }
    out[n++] = Number.parseInt(hex, 16);
    i += 2;
  }
  return out.slice(0, n);
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
