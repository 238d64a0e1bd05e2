import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { Image, parseDataUrl, readHeader } from "../../../src/encoding/image.ts";
import { ErrorCode } from "../../../src/errors.ts";
import { decodeValue, encodeValue } from "../../../src/ipc/index.ts";

async function file(
  format: "png" | "jpeg" | "webp" | "gif" | "tiff",
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

  describe("from a data URL or bytes of any format sharp reads", () => {
    it("keeps PNG, JPEG and WebP bytes as they are", async () => {
      for (const format of ["png", "jpeg", "webp"] as const) {
        const bytes = await file(format);
        const url = `data:image/${format};base64,${Buffer.from(bytes).toString("base64")}`;
        const image = await Image.fromDataUrl(url);
        expect(image).toMatchObject({ width: 37, height: 21, contentType: `image/${format}` });
        expect(Buffer.from(image.bytes).equals(Buffer.from(bytes))).toBe(true);
        expect(image.toDataUrl()).toBe(url);
      }
    });

    it("decodes GIF, TIFF and SVG to raw pixels, RGBA where they have alpha, RGB where not", async () => {
      const gif = await file("gif");
      const fromGif = await Image.fromBytes(gif);
      // sharp reads GIF with alpha (its transparent palette index); #336699 survives the palette.
      expect(fromGif).toMatchObject({ width: 37, height: 21, channels: 4, encoded: false });
      expect([...fromGif.bytes.subarray(0, 4)]).toEqual([0x33, 0x66, 0x99, 255]);
      const rgbTiff = await Image.fromBytes(await file("tiff", { compression: "lzw" }, 3));
      expect(rgbTiff).toMatchObject({ channels: 3 });
      expect([...rgbTiff.bytes.subarray(0, 3)]).toEqual([0x33, 0x66, 0x99]);
      const svg =
        '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="4"><rect width="4" height="4" fill="#f00"/></svg>';
      const fromSvg = await Image.fromDataUrl(`data:image/svg+xml,${encodeURIComponent(svg)}`);
      expect(fromSvg).toMatchObject({ width: 8, height: 4, channels: 4 });
      expect([...fromSvg.bytes.subarray(0, 4)]).toEqual([255, 0, 0, 255]);
      expect(fromSvg.bytes[4 * 7 + 3]).toBe(0); // the right half is transparent
    });

    it("trusts the bytes, not the URL's media type", async () => {
      const png = await file("png");
      const url = `data:application/octet-stream;base64,${Buffer.from(png).toString("base64")}`;
      expect(await Image.fromDataUrl(url)).toMatchObject({ contentType: "image/png" });
    });

    it("parses base64 (whitespace allowed) and percent-encoded data URLs to bytes", () => {
      expect(parseDataUrl("data:;base64,AAEC /w==")).toEqual({
        mediaType: "text/plain",
        bytes: Uint8Array.from([0, 1, 2, 255]),
      });
      expect(parseDataUrl("data:image/x-raw,%00%ffA%C3%A9")).toEqual({
        mediaType: "image/x-raw",
        bytes: Uint8Array.from([0, 255, 65, 0xc3, 0xa9]),
      });
    });

    it.each([
      ["no data: URL", "https://example.com/a.png", /Expected a data: URL/],
      ["no comma", "data:image/png;base64", /Expected a data: URL/],
      ["bad base64", "data:image/png;base64,AA*A", /not valid base64/],
      ["a cut base64 quantum", "data:image/png;base64,AAAAA", /not valid base64/],
      ["a bad percent escape", "data:image/svg+xml,%zz", /"%" at 0 is not followed by two hex/],
    ])("rejects %s with INVALID_PAYLOAD", async (_name, url, message) => {
      const error = await Image.fromDataUrl(url).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: ErrorCode.INVALID_PAYLOAD,
        message: expect.stringMatching(message),
      });
    });

    it("rejects bytes sharp cannot read, and images past maxPixels, with INVALID_PAYLOAD", async () => {
      await expect(Image.fromBytes(new TextEncoder().encode("not an image"))).rejects.toMatchObject(
        {
          code: ErrorCode.INVALID_PAYLOAD,
          message: "Expected the bytes of an image sharp can read",
        },
      );
      await expect(Image.fromBytes(await file("png"), { maxPixels: 700 })).rejects.toMatchObject({
        code: ErrorCode.INVALID_PAYLOAD,
        message: "The image is 37x21 = 777 pixels, more than the 700 allowed",
      });
    });

    it("rejects arguments of the wrong type with INVALID_ARGUMENT", async () => {
      await expect(Image.fromBytes("png" as unknown as Uint8Array)).rejects.toMatchObject({
        code: ErrorCode.INVALID_ARGUMENT,
      });
      await expect(Image.fromDataUrl(42 as unknown as string)).rejects.toMatchObject({
        code: ErrorCode.INVALID_ARGUMENT,
      });
      await expect(Image.fromBytes(await file("png"), { maxPixels: 0 })).rejects.toMatchObject({
        code: ErrorCode.INVALID_ARGUMENT,
        message: "Expected `maxPixels` to be a positive integer, got 0",
      });
    });
  });
});
