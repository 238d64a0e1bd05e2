import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { serveStepsApp, streamedSteps } from "../consumers/server.ts";
import { DIVERGING_AT, holdDivergingFailure } from "../fixtures/consumers/steps-app.ts";
import { launchChromium, openPage } from "./chromium.ts";

const readerPage = readFileSync(new URL("../fixtures/browser/seed-reader.html", import.meta.url));

/** The seed's request: `{ prompt: "A sunset", steps: 20 }`. */
const SEED_STEPS = 20;

interface ReaderOutcome {
  readonly printed: string[];
  readonly parsed: string[];
  readonly finished: boolean;
  readonly error: string | null;
}

describe("fal's browser fetch reader, unchanged, against a troupe app", () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([serveStepsApp(), launchChromium()]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /**
   * Runs the reader page against the endpoint at `path`, until it finishes or throws. With
   * `releaseAfter`, `release` is called once the page has printed that many lines.
   */
  async function runReader(
    path: string,
    held?: { readonly releaseAfter: number; readonly release: () => void },
  ): Promise<ReaderOutcome & { pageErrors: string[] }> {
    const { page, errors } = await openPage(browser);
    // The reader page is served from the app's own origin, as the docs' page would be.
    await page.route(`${server.url}/seed-reader.html*`, (route) =>
      route.fulfill({ body: readerPage, contentType: "text/html; charset=utf-8" }),
    );
    await page.goto(`${server.url}/seed-reader.html?path=${encodeURIComponent(path)}`);
    if (held !== undefined) {
      await page.waitForFunction(
        (count) =>
          ((window as unknown as { seedReader?: ReaderOutcome }).seedReader?.printed.length ?? 0) >=
          count,
        held.releaseAfter,
      );
      held.release();
    }
    const outcome = await page.waitForFunction(() => {
      const o = (window as unknown as { seedReader?: ReaderOutcome }).seedReader;
      return o !== undefined && (o.finished || o.error !== null) ? o : undefined;
    });
    const result = (await outcome.jsonValue()) as ReaderOutcome;
    await page.close();
    return { ...result, pageErrors: errors };
  }

  /** What the docs' code prints for a step: `Step 0: 5%`. */
  const stepLine = ({ step, progress }: { step: number; progress: number }): string =>
    `Step ${step}: ${progress * 100}%`;

  it("reads every step and then the final result, in order, when the request succeeds", async () => {
    const { printed, parsed, finished, error, pageErrors } = await runReader("/stream");

    expect(error).toBeNull();
    expect(finished).toBe(true);
    const steps = streamedSteps(SEED_STEPS, SEED_STEPS);
    expect(parsed.map((text) => JSON.parse(text))).toEqual([
      ...steps,
      { output: `A sunset (${SEED_STEPS} steps)` },
    ]);
    // What the docs' code prints: a line per step, then one for the final result, which has
    // neither field.
    expect(printed).toEqual([...steps.map(stepLine), "Step undefined: NaN%"]);
    expect(pageErrors).toEqual([]);
  });

  it("throws from reader.read() when a rank fails after the stream has started", async () => {
    // The failure is held until the page has printed the steps before it: Chromium's fetch
    // reports the broken response as soon as it arrives, dropping bytes the page has not read.
    const release = holdDivergingFailure();
    const { printed, parsed, finished, error, pageErrors } = await runReader("/diverging/stream", {
      releaseAfter: DIVERGING_AT,
      release,
    });

    // The response ends without its last chunk, which Chromium's fetch reports as a network
    // error from the body's reader: the docs' loop cannot mistake it for the end of the stream.
    expect(finished).toBe(false);
    expect(error).toMatch(/^TypeError: /);
    // The steps streamed before the failure were read; the error event is named, so the docs'
    // code, which reads only `data: ` events, skips it.
    const steps = streamedSteps(DIVERGING_AT, SEED_STEPS);
    expect(parsed.map((text) => JSON.parse(text))).toEqual(steps);
    expect(printed).toEqual(steps.map(stepLine));
    expect(pageErrors).toEqual([]);
  });
});
