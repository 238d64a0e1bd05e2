import type { InferenceSession } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { Image } from "../../src/index.ts";
import { decodePage } from "./decode-page.ts";
import { BAND_OVERLAP, detectBoxes, detectionBand, detectionSize } from "./detection.ts";
import { DEFAULT_MODEL_FILES, loadModel } from "./models.ts";
import { sessionOptionsFor } from "./onnx-session.ts";
import { knownLines, renderPage } from "./test-pages.ts";
import { type Box, openCvReady, type RgbaImage } from "./text-boxes.ts";

describe("detection in bands of a page's rows", () => {
  it("cuts the rows into whole 32-row blocks, each owned once, each run widened by the overlap", () => {
    for (const height of [32, 96, 800, 960]) {
      for (const count of [1, 2, 3, 4, 8]) {
        const bands = Array.from({ length: count }, (_, i) => detectionBand(height, i, count));
        expect(bands[0]?.ownTop).toBe(0);
        expect(bands.at(-1)?.ownBottom).toBe(height);
        for (const [i, band] of bands.entries()) {
          if (i > 0) expect(band.ownTop).toBe(bands[i - 1]?.ownBottom);
          for (const row of [band.top, band.bottom, band.ownTop, band.ownBottom]) {
            expect(row % 32).toBe(0);
          }
          expect(band.top).toBe(Math.max(0, band.ownTop - BAND_OVERLAP));
          expect(band.bottom).toBe(Math.min(height, band.ownBottom + BAND_OVERLAP));
        }
      }
    }
    expect(detectionBand(960, 0, 1)).toEqual({ top: 0, bottom: 960, ownTop: 0, ownBottom: 960 });
    expect(detectionBand(960, 1, 2)).toEqual({
      top: 480 - BAND_OVERLAP,
      bottom: 960,
      ownTop: 480,
      ownBottom: 960,
    });
    // More bands than blocks: some own nothing.
    expect(detectionBand(64, 1, 4)).toMatchObject({ ownTop: 32, ownBottom: 32 });
  });

  describe("on the model", () => {
    let detector: InferenceSession;
    let page: RgbaImage;

    beforeAll(async () => {
      const options = sessionOptionsFor({ device: "cpu", localWorldSize: 1, threads: 1 });
      [detector] = await Promise.all([
        loadModel("detection", DEFAULT_MODEL_FILES.detection, options),
        openCvReady(),
      ]);
      page = await decodePage(Image.fromEncoded(await renderPage(knownLines(30))), "page");
    });

    /** The top edge's middle of a box, to pair boxes found apart. */
    const key = (box: Box) => [(box[0][0] + box[1][0]) / 2, (box[0][1] + box[1][1]) / 2];

    it.each([2, 3, 5])(
      "finds in %i bands the boxes it finds in the whole page, each once",
      async (bands) => {
        const whole = await detectBoxes(detector, page);
        expect(whole).toHaveLength(30);
        const banded = (
          await Promise.all(
            Array.from({ length: bands }, (_, band) =>
              detectBoxes(detector, page, { band, bands }),
            ),
          )
        ).flat();
        // Lines lie across the cuts: a 30-line page at 2, 3 and 5 bands cuts through some.
        const { height } = detectionSize(page.width, page.height);
        const scale = page.height / height;
        const cuts = Array.from({ length: bands - 1 }, (_, i) => {
          return detectionBand(height, i + 1, bands).ownTop * scale;
        });
        const across = whole.filter((box) => cuts.some((y) => box[0][1] < y && box[3][1] > y));
        expect(across.length).toBeGreaterThan(0);

        expect(banded).toHaveLength(whole.length);
        const sorted = (boxes: Box[]) => boxes.map(key).sort((a, b) => (a[1] ?? 0) - (b[1] ?? 0));
        for (const [i, [x, y]] of sorted(banded).entries()) {
          const [wx, wy] = sorted(whole)[i] as number[];
          expect(Math.abs((x as number) - (wx as number))).toBeLessThanOrEqual(2);
          expect(Math.abs((y as number) - (wy as number))).toBeLessThanOrEqual(2);
        }
      },
    );
  });
});
