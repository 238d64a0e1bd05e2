import { createFalClient } from "@fal-ai/client";
import { createParser } from "eventsource-parser";
import { pino } from "pino";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { stream } from "../../src/client/index.ts";
import { ErrorCode } from "../../src/errors.ts";
import OcrApp from "./app.ts";
import { characterErrorRate } from "./cer.ts";
import { knownLines, pageDataUrl, renderPage } from "./test-pages.ts";
import type { OcrEvent, OcrLine, OcrOutput } from "./worker.ts";

/** The example's app with its two ranks on the CPU, one intra-op thread each, as CI runs it. */
class CpuOcrApp extends OcrApp {
  override gpus = [];
  override setupOptions = { threads: 1 };
}

/** 6 MiB: room for a data: URL of a 3 MB page, base64 adding a third. */
const BODY_LIMIT = 6 * 1024 * 1024;

type Event = OcrEvent & { preview?: { url: string } };

async function read(server: ServerHandle, input: unknown) {
  const s = stream<Event, OcrOutput>(server.url, { input, path: "/stream" });
  const events: Event[] = [];
  for await (const event of s) events.push(event);
  return { events, final: await s.done() };
}

const linesOf = (events: readonly Event[]) =>
  events.filter((e): e is Event & OcrLine => "text" in e && "line" in e);

function withoutProgress({ progress: _, ...line }: OcrLine & { progress?: number }): OcrLine {
  return line;
}

describe("the OCR service on two ranks", () => {
  let server: ServerHandle;

  beforeAll(async () => {
    server = await serve(CpuOcrApp, {
      port: 0,
      logger: pino({ level: "silent" }),
      heartbeatInterval: 0,
      bodyLimit: BODY_LIMIT,
    });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it("reads a page of 22 lines of 16-24 px text within 3 % CER, streaming every line it returns", async () => {
    const truth = knownLines(22);
    const { events, final } = await read(server, { image_url: await pageDataUrl(truth) });

    const cer = characterErrorRate(final.text, truth.join("\n"));
    expect(cer, `CER ${(cer * 100).toFixed(2)} %, read:\n${final.text}`).toBeLessThanOrEqual(0.03);
    const [page] = final.pages;
    expect(page?.lines.length).toBe(22);
    expect(final.pages).toHaveLength(1);

    // Detection first, then each line as it was read: the same lines as the result, from both ranks.
    expect(events[0]).toMatchObject({ page: 0, lines: 22, width: 900 });
    const streamed = linesOf(events);
    expect(streamed.map(withoutProgress).sort((a, b) => a.line - b.line)).toEqual(page?.lines);
    expect(new Set(streamed.map((l) => l.rank))).toEqual(new Set([0, 1]));
    // Line 0 is rank 0's (streamed with no relay); rank 1 starts with lines 1 and 2, and the rest
    // go to whichever rank is free, each read once.
    expect(page?.lines.slice(0, 3).map((l) => l.rank)).toEqual([0, 1, 1]);
    expect(new Set(page?.lines.map((l) => l.line))).toEqual(new Set(truth.keys()));
    const progress = streamed.map((l) => l.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);

    // Previews of the page with the boxes read so far; the last one shows them all.
    const previews = events.filter((e) => e.preview !== undefined) as (Event & {
      read: number;
      preview: { url: string; width: number };
    })[];
    expect(previews.length).toBeGreaterThanOrEqual(1);
    expect(previews.at(-1)).toMatchObject({ read: 22, progress: 1 });
    for (const p of previews) expect(p.preview.url).toMatch(/^data:image\/jpeg;base64,/);
  });

  it("reads a page through fal's queue with the real @fal-ai/client, the lines among its events", async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      queue: { appId: string };
    };
    const appId = health.queue.appId;
    const fal = createFalClient({
      requestMiddleware: async (request) => ({
        ...request,
        url: request.url
          .replace("https://queue.fal.run", `${server.url}/queue`)
          .replace("https://fal.run", server.url),
      }),
    });
    const truth = knownLines(6, 4);
    const input = { image_url: await pageDataUrl(truth) };
    const updates: string[] = [];
    const { data, requestId } = await fal.subscribe(`${appId}/stream`, {
      input,
      mode: "streaming",
      onQueueUpdate: (update) => updates.push(update.status),
    });
    const output = data as OcrOutput;
    expect(updates).toContain("COMPLETED");
    expect(characterErrorRate(output.text, truth.join("\n"))).toBeLessThanOrEqual(0.03);

    // What the queue kept of the request: its streamed lines, in troupe's dialect.
    const events = await fetch(`${server.url}/queue/${appId}/requests/${requestId}/events`);
    const results: Event[] = [];
    const parser = createParser({
      onEvent: (m) => {
        if (m.event === "result") results.push(JSON.parse(m.data) as Event);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
    }
    const lines = linesOf(results).map(withoutProgress);
    expect(lines.sort((a, b) => a.line - b.line)).toEqual(output.pages[0]?.lines);
  });

  it("reads several pages, each in its own place of the result", async () => {
    const pages = [knownLines(4, 3), knownLines(3, 11)];
    const { events, final } = await read(server, {
      image_urls: await Promise.all(pages.map((lines) => pageDataUrl(lines))),
      preview_every: 2,
    });
    expect(final.pages).toHaveLength(2);
    final.pages.forEach((page, i) => {
      expect(characterErrorRate(page.text, (pages[i] as string[]).join("\n"))).toBeLessThanOrEqual(
        0.03,
      );
      expect(page.lines.every((l) => l.page === i)).toBe(true);
    });
    expect(final.text).toBe(`${final.pages[0]?.text}\n\n${final.pages[1]?.text}`);
    expect(linesOf(events).map((l) => l.page)).toEqual([0, 0, 0, 0, 1, 1, 1]);
  });

  it("accepts a data: URL image up to the body limit, and answers 413 past it", async () => {
    // An uncompressed PNG: about 2.7 MB, 3.6 MB as base64.
    const lines = knownLines(2);
    const big = await sharp(await renderPage(lines, { width: 1000 }))
      .resize({ width: 1000, height: 900, fit: "contain", background: "#fff" })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const url = `data:image/png;base64,${big.toString("base64")}`;
    expect(url.length).toBeGreaterThan(1024 * 1024); // past fastify's default 1 MiB
    const { final } = await read(server, { image_url: url });
    expect(characterErrorRate(final.text, lines.join("\n"))).toBeLessThanOrEqual(0.03);

    const tooLarge = await fetch(`${server.url}/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ image_url: `data:image/png;base64,${"A".repeat(BODY_LIMIT)}` }),
    });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: ErrorCode.BODY_TOO_LARGE } });
  });

  it.each([
    ["both image_url and image_urls", { image_url: "data:,", image_urls: ["data:,"] }, ""],
    ["neither", {}, ""],
    ["an input that is no image", { image_urls: ["data:text/plain,hi"] }, "image_urls.0"],
    ["a file: URL", { image_url: "file:///etc/passwd" }, "image_url"],
  ])("answers %s with a 422 naming it, before any rank sees it", async (_name, body, path) => {
    const response = await fetch(`${server.url}/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(422);
    const answer = (await response.json()) as {
      error: { code: string; issues: { path: string }[] };
    };
    expect(answer.error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(answer.error.issues.map((i) => i.path)).toContain(path);
  });

  it("fails a request whose image does not decode with an error naming it, and reads the next", async () => {
    const png = await renderPage(knownLines(3));
    const truncated = png.subarray(0, Math.floor(png.length / 2));
    const s = stream(server.url, {
      input: {
        image_urls: [
          await pageDataUrl(knownLines(1)),
          `data:image/png;base64,${truncated.toString("base64")}`,
        ],
      },
      path: "/stream",
    });
    const error = await s.done().catch((e: unknown) => e);
    // Every rank decodes its own copy: whichever fails first is the one named.
    expect(error).toMatchObject({
      code: ErrorCode.CALL_FAILED,
      rank: expect.any(Number),
      message: expect.stringContaining("image_urls[1] could not be decoded as an image"),
    });
    const { final } = await read(server, {
      image_url: `data:image/png;base64,${png.toString("base64")}`,
    });
    expect(final.pages[0]?.lines).toHaveLength(3);
  });

  it("stops on every rank when the client goes away mid-page, and reads the next request whole", async () => {
    const controller = new AbortController();
    const s = stream<Event, OcrOutput>(server.url, {
      input: { image_url: await pageDataUrl(knownLines(12)) },
      path: "/stream",
      signal: controller.signal,
    });
    for await (const event of s) {
      if ("text" in event) {
        controller.abort();
        break;
      }
    }
    await expect(s.done()).rejects.toMatchObject({ name: "AbortError" });
    const { final } = await read(server, { image_url: await pageDataUrl(knownLines(5)) });
    expect(final.pages[0]?.lines).toHaveLength(5);
  });
});
