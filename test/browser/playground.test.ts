import { mkdirSync, readdirSync, readFileSync, statSync, watch } from "node:fs";
import { pino } from "pino";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { previewApp } from "../fixtures/browser/preview-app.ts";
import { tempDir, waitForFile } from "../helpers.ts";
import { launchChromium } from "./chromium.ts";
import { openPlayground, settled } from "./playground-page.ts";

const SCREENSHOTS = new URL("../../test-results/browser/", import.meta.url);

describe("the playground served by a troupe app", () => {
  const markers = tempDir();
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serve(previewApp({ markerDir: markers.path }), {
        port: 0,
        logger: pino({ level: "silent" }),
        // Long enough that only the page's DELETE, not its dropped connection, can cancel in time.
        resumeWindow: 120_000,
      }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    markers[Symbol.dispose]();
  });

  const open = (path: string) => openPlayground(browser, server.url, path);
  const expectEnd = async (page: Page, expected: string) => {
    const run = await settled(page);
    expect(run.status, run.error).toBe(expected);
  };

  it("lists the endpoints and builds a form from each input schema", async () => {
    const { page, errors } = await open("/generate");
    const endpoints = page.getByTestId("endpoint").locator("option");
    expect(await endpoints.allTextContents()).toEqual([
      "POST /generate · streaming",
      "POST /countdown · streaming",
      "POST /render",
    ]);
    const field = (name: string) => page.getByTestId(`field-${name}`);
    const describe = (name: string) =>
      field(name).evaluate((node) => {
        const input = node as HTMLInputElement;
        return {
          tag: node.tagName.toLowerCase(),
          type: input.type,
          value: input.value,
          min: input.min,
          max: input.max,
          step: input.step,
          checked: input.checked,
        };
      });
    expect(await describe("prompt")).toMatchObject({ tag: "input", type: "text", value: "" });
    expect(await describe("steps")).toMatchObject({
      tag: "input",
      type: "number",
      value: "4",
      min: "1",
      max: "50",
      step: "1",
    });
    expect(await describe("failAt")).toMatchObject({ type: "number", value: "", min: "0" });
    expect(await describe("format")).toMatchObject({ tag: "select" });
    expect(await field("format").locator("option:checked").textContent()).toBe("jpeg");
    expect(await field("format").locator("option").allTextContents()).toEqual(["jpeg", "png"]);
    expect(await describe("grayscale")).toMatchObject({ type: "checkbox", checked: false });
    expect(await describe("tags")).toMatchObject({ tag: "textarea", value: "[]" });

    await page.getByTestId("endpoint").selectOption({ label: "POST /render" });
    expect(await describe("size")).toMatchObject({ value: "8", min: "4", max: "64" });
    expect(await field("format").locator("option:checked").textContent()).toBe("png");
    expect(await field("prompt").count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("streams progress and previews into the page while the ranks work, then the result", async () => {
    const { page, errors } = await open("/generate");
    await page.getByTestId("field-prompt").fill("A sunset");
    await page.getByTestId("field-steps").fill("6");
    await page.getByTestId("field-size").fill("24");
    await page.getByTestId("field-tags").fill('["warm"]');
    // Every value the progress bar and the preview take, in order: each record keeps the value
    // before its change (the observer runs after a batch of changes, so reading the attribute
    // there would see only the last), and the current value follows the last record.
    await page.evaluate(() => {
      const before = { progress: [] as (string | null)[], previews: [] as (string | null)[] };
      (window as unknown as { before: typeof before }).before = before;
      new MutationObserver((records) => {
        for (const r of records) {
          const target = r.target as Element;
          if (r.attributeName === "aria-valuenow") before.progress.push(r.oldValue);
          else if (target.getAttribute("data-testid") === "preview")
            before.previews.push(r.oldValue);
        }
      }).observe(document.body, {
        subtree: true,
        attributes: true,
        attributeOldValue: true,
        attributeFilter: ["aria-valuenow", "src"],
      });
    });
    await page.getByTestId("run").click();
    await expectEnd(page, "done");

    const seen = await page.evaluate(() => {
      const { before } = window as unknown as {
        before: { progress: (string | null)[]; previews: (string | null)[] };
      };
      const current = (testId: string, name: string) =>
        document.querySelector(`[data-testid=${testId}]`)?.getAttribute(name) ?? null;
      return {
        progress: [...before.progress, current("progress", "aria-valuenow")],
        previews: [...before.previews, current("preview", "src")],
      };
    });
    const distinct = (values: (string | null)[]) => [
      ...new Set(values.filter((v): v is string => v !== null && v !== "0")),
    ];
    const progress = distinct(seen.progress).map(Number);
    expect(progress).toEqual([17, 33, 50, 67, 83, 100]);
    const previews = distinct(seen.previews);
    expect(previews).toHaveLength(6); // a new picture per step
    for (const src of previews) expect(src).toMatch(/^data:image\/jpeg;base64,[A-Za-z0-9+/=]+$/);

    const preview = page.getByTestId("preview").first();
    expect(await preview.getAttribute("width")).toBe("24");
    expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(24);
    const result = page.getByTestId("result");
    expect(await result.locator("pre").textContent()).toContain('"prompt": "A sunset"');
    const finalImage = result.getByTestId("result-image");
    expect(await finalImage.getAttribute("src")).toBe(previews.at(-1));
    const events = await page
      .getByTestId("log")
      .locator("li")
      .evaluateAll((items) => items.map((li) => li.getAttribute("data-event")));
    // A `queued` event may come first, whether or not the request had to wait.
    expect(events.filter((event) => event !== "queued")).toEqual([
      "started",
      "result",
      "result",
      "result",
      "result",
      "result",
      "result",
      "done",
    ]);
    expect(await page.getByTestId("request-id").textContent()).toMatch(/\S/);
    expect(await page.getByTestId("error").isHidden()).toBe(true);

    mkdirSync(SCREENSHOTS, { recursive: true });
    const shot = new URL("playground-stream.png", SCREENSHOTS);
    await page.screenshot({ path: shot.pathname, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(0);
    expect(readFileSync(shot).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it("runs an endpoint that does not stream and renders the image in its result", async () => {
    const { page, errors } = await open("/render");
    await page.getByTestId("field-size").fill("12");
    await page.getByTestId("run").click();
    await expectEnd(page, "done");
    const image = page.getByTestId("result").getByTestId("result-image");
    expect(await image.getAttribute("src")).toMatch(/^data:image\/png;base64,/);
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(12);
    expect(await page.getByTestId("progress").getAttribute("aria-valuenow")).toBe("100");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a plain generator's last result as the final one", async () => {
    const { page, errors } = await open("/countdown");
    await page.getByTestId("field-from").fill("4");
    await page.getByTestId("run").click();
    await expectEnd(page, "done");
    const result = page.getByTestId("result");
    expect(await result.locator("pre").textContent()).toBe('{\n  "output": "liftoff"\n}');
    expect(await result.locator("[data-field=note]").textContent()).toMatch(/last result/);
    const results = page.getByTestId("log").locator("li[data-event=result]");
    expect(await results.count()).toBe(5);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("cancels the request on every rank when Cancel is clicked", async () => {
    const { page, errors } = await open("/generate");
    await page.getByTestId("field-prompt").fill("forever");
    await page.getByTestId("field-hold").check();
    await page.getByTestId("run").click();
    await page.getByTestId("preview").first().waitFor(); // the first step streamed; ranks hold
    const requestId = (await page.getByTestId("request-id").textContent()) ?? "";
    expect(requestId).toMatch(/\S/);
    await page.getByTestId("cancel").click();
    await expectEnd(page, "cancelled");
    await Promise.all(
      [0, 1].map((rank) =>
        waitForFile(markerPath(requestId, rank), `rank ${rank} was not cancelled`),
      ),
    );
    expect(readFileSync(markerPath(requestId, 0), "utf8")).toMatch(/^AbortError: /);
    await page.getByTestId("log").getByText(`DELETE /requests/${requestId} answered 204`).waitFor();
    expect(await page.getByTestId("error").isHidden()).toBe(true);
    expect(await page.getByTestId("run").isEnabled()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("cancels a call that does not stream by closing its connection, before any answer", async () => {
    const { page, errors } = await open("/render");
    await page.getByTestId("field-hold").check();
    await page.getByTestId("run").click();
    // The page shows the id it sent along (the server logs it beside its own).
    expect(await page.getByTestId("request-id").textContent()).toMatch(/^playground-[0-9a-f]{32}$/);
    // Only the ranks can say that the call reached them, under the server's id for it; they
    // answer nothing until cancelled.
    const requestId = await heldRequest();
    await page.getByTestId("cancel").click();
    await expectEnd(page, "cancelled");
    await Promise.all(
      [0, 1].map((rank) =>
        waitForFile(markerPath(requestId, rank), `rank ${rank} was not cancelled`),
      ),
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the queue position while another request holds the ranks", async () => {
    const blocker = await fetch(`${server.url}/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "blocker", hold: true }),
    });
    const blockerId = blocker.headers.get("x-request-id") ?? "";
    const reader = blocker.body?.getReader();
    await reader?.read(); // its first step: it runs on every rank now
    const { page, errors } = await open("/generate");
    await page.getByTestId("field-prompt").fill("next");
    await page.getByTestId("field-steps").fill("2");
    await page.getByTestId("run").click();
    await page.locator("[data-testid=queue][data-position='0']").waitFor();
    expect(await page.getByTestId("status").textContent()).toBe("queued");
    const cancelled = await fetch(`${server.url}/requests/${blockerId}`, {
      method: "DELETE",
      headers: { "troupe-resume-token": blocker.headers.get("troupe-resume-token") ?? "" },
    });
    expect(cancelled.status).toBe(204);
    await expectEnd(page, "done");
    expect(await page.getByTestId("queue").isHidden()).toBe(true);
    // The blocker's own (fal-dialect) stream was cancelled on the server, which may cut it off
    // (fal's clients must see a failure, not an end): letting it go may reject, as it should.
    await reader?.cancel().catch(() => {});
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a fatal error from a rank with its code, message and request id", async () => {
    const { page, errors } = await open("/generate");
    await page.getByTestId("field-prompt").fill("doomed");
    await page.getByTestId("field-failAt").fill("1");
    await page.getByTestId("run").click();
    await expectEnd(page, "failed");
    const error = page.getByTestId("error");
    const requestId = await page.getByTestId("request-id").textContent();
    expect(await error.locator("[data-field=code]").textContent()).toBe("CALL_FAILED");
    expect(await error.locator("[data-field=message]").textContent()).toContain(
      "step 1 failed on purpose",
    );
    expect(await error.locator("[data-field=request-id]").textContent()).toBe(requestId);
    expect(await page.getByTestId("preview").count()).toBe(1); // step 0 streamed before it failed
    expect(errors).toEqual([]);
    await page.close();
  });

  it("logs a non-fatal error from a rank and goes on to the result", async () => {
    const { page, errors } = await open("/generate");
    await page.getByTestId("field-prompt").fill("bumpy");
    await page.getByTestId("field-warnAt").fill("1");
    await page.getByTestId("run").click();
    await expectEnd(page, "done");
    const warnings = page.getByTestId("log").locator("li[data-event=warning]");
    expect(await warnings.count()).toBe(1);
    expect(await warnings.textContent()).toContain("step 1 preview failed");
    expect(await page.getByTestId("log").locator("li[data-event=result]").count()).toBe(4);
    expect(await page.getByTestId("error").isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("keeps only the newest 200 events in its log", async () => {
    const { page, errors } = await open("/countdown");
    await page.getByTestId("field-from").fill("300");
    await page.getByTestId("run").click();
    await expectEnd(page, "done");
    const entries = page.getByTestId("log").locator("li");
    expect(await entries.count()).toBe(200);
    expect(await entries.last().getAttribute("data-event")).toBe("done");
    // Results #1-#300 count down from 300, #301 is {"output":…}, #302 is done: the newest 200
    // entries start at #103, which counted 300 - 102 = 198.
    expect(await entries.first().textContent()).toMatch(/^#103 result \{"left":198,/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the server's validation issues for input it refuses", async () => {
    const { page, errors } = await open("/generate");
    await page.getByTestId("field-prompt").fill("too many");
    await page.getByTestId("field-steps").fill("500");
    await page.getByTestId("run").click();
    await expectEnd(page, "failed");
    const error = page.getByTestId("error");
    expect(await error.locator("[data-field=status]").textContent()).toMatch(/^422\b/);
    expect(await error.locator("[data-field=code]").textContent()).toBe("VALIDATION_FAILED");
    expect(await error.locator("[data-field=issues]").textContent()).toMatch(/^steps: /);
    expect(errors).toEqual([]);
    await page.close();
  });

  function markerPath(requestId: string, rank: number, what = "cancelled"): string {
    return `${markers.path}/${what}-${requestId}-${rank}`;
  }

  /** The id of the one request whose rank 0 holds and has not been cancelled, once there is one. */
  async function heldRequest(): Promise<string> {
    const watcher = watch(markers.path);
    try {
      return await new Promise<string>((resolve, reject) => {
        const check = () => {
          const names = readdirSync(markers.path);
          const id = names
            .map((name) => /^holding-(.+)-0$/.exec(name)?.[1])
            .find((held) => held !== undefined && !names.includes(`cancelled-${held}-0`));
          if (id !== undefined) resolve(id);
        };
        watcher.on("change", check);
        watcher.on("error", reject);
        check();
      });
    } finally {
      watcher.close();
    }
  }
});
