import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { Image, readHeader } from "../../../src/encoding/image.ts";
import { decodeValue, encodeValue } from "../../../src/ipc/index.ts";

async function file(
  format: "png" | "jpeg" | "webp",
  options: object = {},
  channels: 3 | 4 = 3,
): Promise<Uint8Array> {
  const image = sharp({ create: { width: 37, height: 21, channels, background: "#336699" } });
  return new Uint8Array(await image.toFormat(format, options).toBuffer());
}

describe("Image", () => {
  it.each([
    ["png", {}, 3],
    ["jpeg", {}, 3],
    ["jpeg", { progressive: true }, 3],
    ["webp", {}, 3],
    ["webp", { lossless: true }, 3],
    ["webp", {}, 4],
  ] as const)(
    "reads the format and size of a %s file %j from its header",
    async (format, options, channels) => {
      const bytes = await file(format, options, channels);
      expect(readHeader(bytes)).toEqual({ format, width: 37, height: 21 });
      expect(Image.fromEncoded(bytes)).toMatchObject({
        contentType: `image/${format}`,
        width: 37,
        height: 21,
        encoded: true,
      });
    },
  );

  it("rejects bytes that are no image, or a truncated header", async () => {
    expect(() => Image.fromEncoded(new Uint8Array([1, 2, 3]))).toThrow(
      /Expected the bytes of a PNG, JPEG or WebP image/,
    );
    const png = await file("png");
    expect(() => Image.fromEncoded(png.subarray(0, 12))).toThrow(/truncated/);
  });

  it("checks raw pixels against their size, naming the mismatch", () => {
    expect(() =>
      Image.fromPixels(new Uint8Array(10), { width: 2, height: 2, channels: 3 }),
    ).toThrow("Expected 2x2x3 = 12 bytes of pixels, got 10");
    expect(() => Image.fromPixels(new Uint8Array(4), { width: 0, height: 2, channels: 1 })).toThrow(
      "Expected `width` to be a positive integer, got 0",
    );
    expect(() =>
      Image.fromPixels(new Uint8Array(4), { width: 2, height: 2, channels: 2 as 1 }),
    ).toThrow("Expected `channels` to be 1, 3 or 4, got 2");
  });

  it("has no data URL while it holds raw pixels", () => {
    const raw = Image.fromPixels(new Uint8Array(4), { width: 2, height: 2, channels: 1 });
    expect(raw.encoded).toBe(false);
    expect(() => raw.toDataUrl()).toThrow(/raw-pixel Image has no data URL/);
  });

  it("crosses a process boundary as an Image, raw or encoded", async () => {
    const raw = Image.fromPixels(Uint8Array.from([1, 2, 3, 4]), {
      width: 2,
      height: 2,
      channels: 1,
    });
    const encoded = Image.fromEncoded(await file("jpeg"));
    const back = decodeValue(encodeValue([raw, encoded])) as Image[];
    expect(back[0]).toBeInstanceOf(Image);
    expect(back[0]).toMatchObject({ width: 2, height: 2, channels: 1, contentType: undefined });
    expect([...(back[0] as Image).bytes]).toEqual([1, 2, 3, 4]);
    expect(back[1]).toMatchObject({ width: 37, height: 21, contentType: "image/jpeg" });
    expect(JSON.parse(JSON.stringify(back[1])).url).toBe(encoded.toDataUrl());
  });
});
