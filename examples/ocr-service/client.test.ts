import { mkdir } from "node:fs/promises";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { launchChromium, openPage } from "../../test/browser/chromium.ts";
import OcrApp from "./app.ts";
import { characterErrorRate } from "./cer.ts";
import { type ClientPage, serveClientPage } from "./client-page.ts";
import { knownLines, renderPage } from "./test-pages.ts";

/** Where the screenshot goes (git ignores test-results/). */
const SCREENSHOT = new URL("../../test-results/ocr-service-client.png", import.meta.url);

class CpuOcrApp extends OcrApp {
  override gpus = [];
  override setupOptions = { threads: 1 };
}

describe("the OCR service's client page in Chromium", () => {
  let page: ClientPage;
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    page = await serveClientPage({ port: 0 });
    [server, browser] = await Promise.all([
      serve(CpuOcrApp, {
        port: 0,
        logger: pino({ level: "silent" }),
        bodyLimit: 8 * 1024 * 1024,
        cors: { origin: page.url },
      }),
      launchChromium(),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await page?.close();
  });

  it("shows the lines arriving and the preview of the boxes, then the page's text", async () => {
    const truth = knownLines(12);
    const { page: tab, errors } = await openPage(browser);
    await tab.setViewportSize({ width: 1400, height: 900 });
    await tab.goto(page.pageFor(server.url));
    // Each line added to the list, with the status the page showed at that moment.
    await tab.evaluate(() => {
      const added: string[] = [];
      (window as unknown as { added: string[] }).added = added;
      new MutationObserver((records) => {
        for (const r of records) {
          for (const _ of r.addedNodes) {
            added.push(document.getElementById("status")?.dataset.status ?? "");
          }
        }
      }).observe(document.getElementById("lines") as HTMLElement, { childList: true });
    });
    await tab.getByTestId("file").setInputFiles({
      name: "page.png",
      mimeType: "image/png",
      buffer: await renderPage(truth),
    });
    await tab.getByTestId("run").click();
    await tab.locator("[data-testid=status][data-status=done]").waitFor({ timeout: 25_000 });

    const added = await tab.evaluate(() => (window as unknown as { added: string[] }).added);
    expect(added).toEqual(Array(12).fill("running"));
    const shown = await tab.locator("#lines .line-text").allTextContents();
    expect(shown).toHaveLength(12);
    const text = (await tab.getByTestId("text").textContent()) ?? "";
    expect(shown.join("\n")).toBe(text);
    expect(characterErrorRate(text, truth.join("\n"))).toBeLessThanOrEqual(0.03);
    // Lines in reading order, each with the rank that read it: line 0 rank 0's, 1 and 2 rank 1's
    // (its first share), the rest whichever rank was free.
    const ranks = await tab.locator("#lines .rank").allTextContents();
    expect(ranks.slice(0, 3)).toEqual(["rank 0", "rank 1", "rank 1"]);
    expect(new Set(ranks)).toEqual(new Set(["rank 0", "rank 1"]));
    const preview = tab.getByTestId("preview");
    expect(await preview.getAttribute("src")).toMatch(/^data:image\/jpeg;base64,/);
    // Previews are at most 640 px wide.
    expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(640);
    expect(await tab.getByTestId("summary").textContent()).toMatch(
      /^Page 1: 12 lines found in \d+ ms/,
    );
    expect(await tab.getByTestId("progress").evaluate((p: HTMLProgressElement) => p.value)).toBe(1);

    await mkdir(new URL(".", SCREENSHOT), { recursive: true });
    const shot = await tab.screenshot({ path: SCREENSHOT.pathname, fullPage: true });
    expect(await sharp(shot).metadata()).toMatchObject({ format: "png", width: 1400 });
    expect(errors).toEqual([]);
    await tab.close();
  });

  it("shows the server's 422 when the input is not an image", async () => {
    const { page: tab, errors } = await openPage(browser);
    await tab.goto(page.pageFor(server.url));
    await tab.getByTestId("url").fill("ftp://example.com/page.png");
    await tab.getByTestId("run").click();
    await tab.locator("[data-testid=status][data-status=failed]").waitFor();
    expect(await tab.getByTestId("error").textContent()).toMatch(
      /^422 VALIDATION_FAILED: .*image_url: Expected a data: URL or an http\(s\) URL, got a ftp: URL/,
    );
    expect(errors).toEqual([]);
    await tab.close();
  });
});
