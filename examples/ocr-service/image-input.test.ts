import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.ts";
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, resolveImages } from "./image-input.ts";

const limits: ImageLimits = { ...DEFAULT_IMAGE_LIMITS, maxBytes: 4096, timeoutMs: 5_000 };

async function png(width = 8, height = 8): Promise<Buffer> {
  return await sharp({ create: { width, height, channels: 3, background: "#fff" } })
    .png()
    .toBuffer();
}

/** `resolveImages` for one URL, its rejection (or undefined). */
async function problemWith(url: string, options: Partial<ImageLimits> = {}) {
  const error = await resolveImages([{ path: "image_url", url }], { ...limits, ...options }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return error as { code?: string; status?: number; issues?: { path: string; message: string }[] };
}

describe("the OCR app's image inputs", () => {
  let server: Server;
  let base: string;
  const hung: import("node:http").ServerResponse[] = [];

  beforeAll(async () => {
    const image = await png();
    server = createServer((request, response) => {
      switch (request.url) {
        case "/page.png":
          response.writeHead(200, { "content-type": "image/png" }).end(image);
          return;
        case "/declared-large":
          response.writeHead(200, { "content-length": String(limits.maxBytes + 1) });
          response.end(Buffer.alloc(limits.maxBytes + 1));
          return;
        case "/streamed-large":
          // No content-length: the limit must hold while reading.
          response.writeHead(200, { "transfer-encoding": "chunked" });
          response.write(Buffer.alloc(3000));
          response.end(Buffer.alloc(3000));
          return;
        case "/text":
          response.writeHead(200, { "content-type": "text/plain" }).end("hello");
          return;
        case "/never":
          // Headers never come: the fetch must time out.
          hung.push(response);
          return;
        default:
          response.writeHead(404).end();
      }
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const response of hung) response.destroy();
    server.closeAllConnections();
    server.close();
  });

  it("reads data: URLs and fetches http URLs, in order", async () => {
    const dataUrl = `data:image/png;base64,${(await png(5, 3)).toString("base64")}`;
    const images = await resolveImages(
      [
        { path: "image_urls.0", url: dataUrl },
        { path: "image_urls.1", url: `${base}/page.png` },
      ],
      limits,
    );
    expect(images.map((i) => [i.width, i.height, i.contentType])).toEqual([
      [5, 3, "image/png"],
      [8, 8, "image/png"],
    ]);
  });

  it.each([
    ["a URL that is no URL", "not a url", "Expected a data: URL or an http(s) URL"],
    ["another scheme", "ftp://example.com/a.png", "got a ftp: URL"],
    ["a malformed data: URL", "data:image/png;base64,@@@", "not valid base64"],
    [
      "bytes that are no image",
      "data:text/plain,hello",
      "Expected the bytes of an image sharp can read",
    ],
    ["an answer that is not 2xx", "/missing.png", "answered 404"],
    ["a body declared past the limit", "/declared-large", "larger than 4096 bytes"],
    ["a body that grows past the limit", "/streamed-large", "larger than 4096 bytes"],
    ["a fetched body that is no image", "/text", "Expected the bytes of an image sharp can read"],
  ])("answers %s with a 422 naming the input", async (_name, url, message) => {
    const error = await problemWith(url.startsWith("/") ? `${base}${url}` : url);
    expect(error).toMatchObject({ status: 422, code: ErrorCode.VALIDATION_FAILED });
    expect(error.issues).toEqual([
      { path: "image_url", message: expect.stringContaining(message) },
    ]);
  });

  it("answers a fetch that outlasts its timeout with a 422", async () => {
    const error = await problemWith(`${base}/never`, { timeoutMs: 50 });
    expect(error.issues).toEqual([
      { path: "image_url", message: `Fetching the image from ${base} took longer than 50 ms` },
    ]);
  });

  it("answers an image past the pixel limit, or a data: URL past the byte limit, with a 422", async () => {
    const big = `data:image/png;base64,${(await png(100, 100)).toString("base64")}`;
    expect((await problemWith(big, { maxPixels: 9999 })).issues?.[0]?.message).toBe(
      "The image is 100x100 = 10000 pixels, more than the 9999 allowed",
    );
    expect((await problemWith(big, { maxBytes: 10 })).issues?.[0]?.message).toBe(
      "The image is larger than 10 bytes",
    );
  });

  it("fetches nothing when remote images are off", async () => {
    expect((await problemWith(`${base}/page.png`, { remote: false })).issues?.[0]?.message).toBe(
      "This server accepts images as data: URLs only",
    );
  });

  it("lists every bad input of a request at once, in FastAPI's form too", async () => {
    const error = (await resolveImages(
      [
        { path: "image_urls.0", url: `${base}/page.png` },
        { path: "image_urls.1", url: `${base}/missing.png` },
        { path: "image_urls.2", url: "gopher://old" },
      ],
      limits,
    ).catch((e: unknown) => e)) as { issues: unknown[]; detail: unknown[] };
    expect(error.issues).toEqual([
      { path: "image_urls.1", message: expect.stringContaining("answered 404") },
      { path: "image_urls.2", message: expect.stringContaining("gopher:") },
    ]);
    expect(error.detail).toEqual([
      expect.objectContaining({ loc: ["body", "image_urls", 1] }),
      expect.objectContaining({ loc: ["body", "image_urls", 2] }),
    ]);
  });

  it("rejects with the abort, not a 422, when the request is cancelled", async () => {
    const controller = new AbortController();
    const pending = resolveImages(
      [{ path: "image_url", url: `${base}/never` }],
      limits,
      controller.signal,
    );
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
