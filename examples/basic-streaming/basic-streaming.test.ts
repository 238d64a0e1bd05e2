import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { launchChromium, openPage } from "../../test/browser/chromium.ts";
import BasicStreamingApp from "./app.ts";
import { runClient } from "./client.ts";
import { servePage } from "./page-server.ts";

/** The example's app with its two ranks on the CPU. */
class CpuApp extends BasicStreamingApp {
  override gpus = [];
}

const STEPS = 20;
const steps = Array.from({ length: STEPS }, (_, step) => ({
  step,
  progress: (step + 1) / STEPS,
  message: `Processing step ${step + 1}/${STEPS}`,
}));
const FINAL = { output: "A sunset: 20 steps on 2 ranks" };

describe("the basic-streaming example", () => {
  let server: ServerHandle;

  beforeAll(async () => {
    server = await serve(CpuApp, {
      port: 0,
      logger: pino({ level: "silent" }),
      heartbeatInterval: 0,
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("client.ts prints every step's progress in order, then the final result", async () => {
    const lines: string[] = [];
    const final = await runClient(server.url, (line) => lines.push(line));
    expect(final).toEqual(FINAL);
    expect(lines).toEqual([
      ...steps.map(({ step, progress }) => `Step ${step}: ${Math.round(progress * 100)}%`),
      `Result: ${FINAL.output}`,
    ]);
  });

  it("curl.sh receives fal's exact bytes: a `data:` event per step, the final result last", async () => {
    const script = fileURLToPath(new URL("./curl.sh", import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        "sh",
        [script],
        { env: { ...process.env, PORT: String(server.port) } },
        (error, out, err) =>
          error === null
            ? resolve(out)
            : reject(new Error(`curl.sh failed: ${err}`, { cause: error })),
      );
    });
    const stepEvents = steps.map(
      ({ step, progress, message }) =>
        `data: {"step":${step},"progress":${progress},"message":"${message}"}\n\n`,
    );
    expect(stdout).toBe(`${stepEvents.join("")}data: {"output":"${FINAL.output}"}\n\n`);
  });

  describe("client-browser.html in Chromium", () => {
    let browser: Browser;
    let page: Awaited<ReturnType<typeof servePage>>;

    beforeAll(async () => {
      [browser, page] = await Promise.all([
        launchChromium(),
        servePage({ app: server.url, port: 0 }),
      ]);
    });

    afterAll(async () => {
      await browser?.close();
      await page?.close();
    });

    it("logs what fal's reader code logs: every step, then its line for the final result", async () => {
      const { page: tab, errors } = await openPage(browser);
      await tab.goto(`${page.url}/`);
      const outcome = await tab.waitForFunction(() => {
        const o = (window as unknown as { seedReader?: { finished: boolean; error: unknown } })
          .seedReader;
        return o !== undefined && (o.finished || o.error !== null) ? o : undefined;
      });
      const { printed, finished, error } = (await outcome.jsonValue()) as {
        printed: string[];
        finished: boolean;
        error: string | null;
      };
      expect(error).toBeNull();
      expect(finished).toBe(true);
      // The docs' line for each step; the final result has neither field, so its line reads so.
      expect(printed).toEqual([
        ...steps.map(({ step, progress }) => `Step ${step}: ${progress * 100}%`),
        "Step undefined: NaN%",
      ]);
      expect(await tab.locator("#log").textContent()).toBe(printed.map((l) => `${l}\n`).join(""));
      expect(errors).toEqual([]);
      await tab.close();
    });
  });
});
