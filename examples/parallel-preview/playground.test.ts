import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { launchChromium, openPage } from "../../test/browser/chromium.ts";
import ParallelPreviewApp from "./app.ts";

/** The example's app on the CPU, as CI runs it. */
class CpuApp extends ParallelPreviewApp {
  override gpus: readonly number[] | undefined = [];
}

describe("the parallel-preview playground in Chromium", () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serve(CpuApp, { port: 0, logger: pino({ level: "silent" }) }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("shows the preview grid change as the ranks render, then the final grid", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/?endpoint=${encodeURIComponent("/stream")}`);
    await page.locator("html[data-ready=true]").waitFor();
    await page.getByTestId("field-steps").fill("16");
    await page.getByTestId("field-size").fill("32");
    // Every preview, however fast the page reads: the test counts them.
    await page.getByTestId("field-previews").selectOption("all");
    // Each record keeps the src before its change (an observer runs after a batch of changes),
    // and the current src follows the last record.
    await page.evaluate(() => {
      const seen: (string | null)[] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver((records) => {
        for (const r of records) {
          if ((r.target as Element).getAttribute("data-testid") === "preview")
            seen.push(r.oldValue);
        }
      }).observe(document.body, {
        subtree: true,
        attributes: true,
        attributeOldValue: true,
        attributeFilter: ["src"],
      });
    });
    await page.getByTestId("run").click();
    await page.locator("[data-testid=status][data-status=done]").waitFor({ timeout: 25_000 });

    const previews = await page.evaluate(() => {
      const { seen } = window as unknown as { seen: (string | null)[] };
      const current = document.querySelector("[data-testid=preview]")?.getAttribute("src") ?? null;
      return [...new Set([...seen, current].filter((src): src is string => src !== null))];
    });
    // Steps 0, 5 and 10; step 15 is the last, whose picture is the result.
    expect(previews).toHaveLength(3);
    for (const src of previews) expect(src).toMatch(/^data:image\/jpeg;base64,/);
    const preview = page.getByTestId("preview").first();
    expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64);

    const result = page.getByTestId("result").getByTestId("result-image");
    expect(await result.getAttribute("src")).toMatch(/^data:image\/jpeg;base64,/);
    expect(await result.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64);
    expect(await page.getByTestId("progress").getAttribute("aria-valuenow")).toBe("100");
    expect(errors).toEqual([]);
    await page.close();
  });
});
