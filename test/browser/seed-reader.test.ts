import { readFileSync } from "node:fs";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import SeedApp from "../fixtures/browser/seed-app.ts";
import { launchChromium, openPage } from "./chromium.ts";

const readerPage = readFileSync(new URL("../fixtures/browser/seed-reader.html", import.meta.url));

describe("fal's browser fetch reader, unchanged, against a troupe app", () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serve(SeedApp, { port: 0, logger: pino({ level: "silent" }) }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("reads every step and then the final result, in order", async () => {
    const { page, errors } = await openPage(browser);
    // The reader page is served from the app's own origin, as the docs' page would be.
    await page.route(`${server.url}/seed-reader.html`, (route) =>
      route.fulfill({ body: readerPage, contentType: "text/html; charset=utf-8" }),
    );
    await page.goto(`${server.url}/seed-reader.html`);
    const outcome = await page.waitForFunction(() => {
      const o = (window as unknown as { seedReader?: { finished: boolean; error: unknown } })
        .seedReader;
      return o !== undefined && (o.finished || o.error !== null) ? o : undefined;
    });
    const { printed, parsed, finished, error } = (await outcome.jsonValue()) as {
      printed: string[];
      parsed: string[];
      finished: boolean;
      error: string | null;
    };

    expect(error).toBeNull();
    expect(finished).toBe(true);
    const steps = Array.from({ length: 20 }, (_, step) => ({ step, progress: (step + 1) / 20 }));
    expect(parsed.map((text) => JSON.parse(text))).toEqual([
      ...steps,
      { output: "A sunset (none, 20 steps, streamed)" },
    ]);
    // What the docs' code prints: a line per step, then one for the final result, which has
    // neither field.
    expect(printed).toEqual([
      ...steps.map(({ step, progress }) => `Step ${step}: ${progress * 100}%`),
      "Step undefined: NaN%",
    ]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
