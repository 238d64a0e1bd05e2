import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistributedRunner, Image } from "../../src/index.ts";
import { characterErrorRate } from "./cer.ts";
import { knownLines, renderPage } from "./test-pages.ts";
import type OcrWorker from "./worker.ts";
import type { OcrEvent, OcrInput, OcrLine } from "./worker.ts";

const WORKER = new URL("./worker.ts", import.meta.url);

/**
 * How rank 0 deals a page's lines when there are more ranks than two, and fewer lines than the
 * ranks' first shares: every line is read once, by some rank, and every rank's part ends.
 */
describe("the OCR worker on three ranks", () => {
  let runner: DistributedRunner<OcrWorker>;

  beforeAll(async () => {
    runner = new DistributedRunner<OcrWorker>({ worker: WORKER, worldSize: 3, gpus: [] });
    await runner.start({ timeout: 60_000, setup: { threads: 1 } });
  });

  afterAll(async () => {
    await runner.stop();
  });

  it("reads pages of 0, 1, 2, 4 and 9 lines, each line once, streaming each as it is read", async () => {
    const counts = [0, 1, 2, 4, 9];
    const truths = counts.map((count, i) => knownLines(count, i));
    const input: OcrInput = {
      pages: await Promise.all(
        truths.map(async (truth, i) => ({
          name: `image_urls[${i}]`,
          image: Image.fromEncoded(await renderPage(truth)),
        })),
      ),
      previewEvery: 3,
    };
    const stream = runner.stream(input);
    const streamed: OcrLine[] = [];
    for await (const event of stream.events()) {
      if (event.type !== "result") continue;
      const result = event.data as OcrEvent;
      if ("text" in result && "line" in result) streamed.push(result);
    }
    const output = await stream.done();

    expect(output.pages.map((page) => page.lines.length)).toEqual(counts);
    for (const [i, page] of output.pages.entries()) {
      expect(page.lines.map((line) => line.line)).toEqual([...(truths[i] as string[]).keys()]);
      // Accuracy is ocr.test.ts's; a page this short gives one slip a large rate.
      expect(characterErrorRate(page.text, (truths[i] as string[]).join("\n"))).toBeLessThan(0.1);
    }
    const all = output.pages.flatMap((page) => page.lines);
    expect(streamed).toHaveLength(all.length);
    const key = (line: OcrLine) => `${line.page}:${line.line}`;
    expect(new Set(streamed.map(key))).toEqual(new Set(all.map(key)));
    // Line 0 of a page is rank 0's; ranks 1 and 2 start with the next two each.
    const nine = output.pages[4]?.lines.map((line) => line.rank);
    expect(nine?.slice(0, 5)).toEqual([0, 1, 1, 2, 2]);
    expect(new Set(all.map((line) => line.rank))).toEqual(new Set([0, 1, 2]));

    // The ranks are ready for the next request.
    const again = await runner.invoke({ ...input, pages: input.pages.slice(3, 4) });
    expect(again.pages[0]?.lines).toHaveLength(4);
  });
});
