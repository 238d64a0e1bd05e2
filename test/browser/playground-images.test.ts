import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.ts";
import { openPlayground, playgroundStub, settled } from "./playground-page.ts";

// A result is the endpoint's data, not the page's: whatever URL it names must not reach an
// `<img src>` unless it is a picture the browser may load as one.

/** A 1×1 PNG. */
const PIXEL = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const PIXEL_DATA_URL = `data:image/png;base64,${PIXEL.toString("base64")}`;

const image = (url: string) => ({ content_type: "image/png", url, width: 1, height: 1 });

const RESULT = {
  images: [
    image("javascript:alert(document.domain)"),
    image(PIXEL_DATA_URL),
    image("  JaVaScRiPt:alert(1)"),
    image("data:text/html,<script>alert(1)</script>"),
    image("/pixel.png"),
    image("vbscript:msgbox(1)"),
  ],
  bare: PIXEL_DATA_URL.replace(";base64", ";name=bare;base64"),
};

const OPENAPI = {
  openapi: "3.1.0",
  info: { title: "images", version: "1" },
  paths: {
    "/pictures": {
      post: {
        requestBody: {
          content: { "application/json": { schema: { type: "object", properties: {} } } },
        },
        responses: { "200": { content: { "application/json": {} } } },
      },
    },
  },
};

describe("the playground showing images a result names", () => {
  let stub: Awaited<ReturnType<typeof playgroundStub>>;
  let url: string;
  let browser: Browser;
  const pixelRequests: string[] = [];

  beforeAll(async () => {
    stub = await playgroundStub("images", OPENAPI, async (request, response, path) => {
      if (request.method === "GET" && path === "/pixel.png") {
        pixelRequests.push(path);
        response.writeHead(200, { "content-type": "image/png" });
        response.end(PIXEL);
        return true;
      }
      if (request.method !== "POST" || path !== "/pictures") return false;
      for await (const _ of request) {
        // The body does not matter; the answer is the same.
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(RESULT));
      return true;
    });
    url = stub.url;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stub?.close();
  });

  it("puts only data:image, blob and http(s) URLs into <img src> and refuses a javascript: URL", async () => {
    const { page, errors } = await openPlayground(browser, url, "/pictures");
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByTestId("run").click();
    const run = await settled(page);
    expect(run.status, run.error).toBe("done");

    const sources = await page
      .locator("img")
      .evaluateAll((images) => images.map((img) => img.getAttribute("src")));
    expect(sources).toEqual([PIXEL_DATA_URL, `${url}/pixel.png`, RESULT.bare]);
    const shown = page.getByTestId("result").getByTestId("result-image");
    expect(await shown.nth(1).evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
    expect(pixelRequests).toEqual(["/pixel.png"]);
    // The refused URLs are still there to read, as text.
    expect(await page.getByTestId("result").locator("pre").textContent()).toContain(
      "javascript:alert(document.domain)",
    );
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
