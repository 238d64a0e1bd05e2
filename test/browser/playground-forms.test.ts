import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import FormsApp from "../fixtures/browser/forms-app.ts";
import { launchChromium } from "./chromium.ts";
import { openPlayground, settled } from "./playground-page.ts";

describe("the playground's form for an input schema", () => {
  let server: ServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serve(FormsApp, { port: 0, logger: pino({ level: "silent" }) }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("offers an input of the right kind for each field, with bounds and defaults", async () => {
    const { page, errors } = await openPlayground(browser, server.url, "/echo");
    expect(await page.title()).toBe("FormsApp");
    const field = (name: string) => page.getByTestId(`field-${name}`);
    const look = (name: string) =>
      field(name).evaluate((node) => {
        const input = node as HTMLInputElement;
        return {
          tag: node.tagName.toLowerCase(),
          type: input.type,
          value: input.value,
          min: input.min,
          max: input.max,
          step: input.step,
        };
      });
    const options = (name: string) => field(name).locator("option").allTextContents();
    const chosen = (name: string) => field(name).locator("option:checked").textContent();

    expect(await look("name")).toMatchObject({ tag: "input", type: "text", value: "" });
    expect(await look("ratio")).toMatchObject({ type: "number", value: "0.5", min: "0", max: "1" });
    expect(await look("ratio")).toMatchObject({ step: "any" });
    // z.int().positive() is an exclusive minimum of 0: the smallest integer it takes is 1.
    expect(await look("count")).toMatchObject({ type: "number", value: "", min: "1", step: "1" });
    // An enum behind a $ref into the schema's own $defs.
    expect(await options("mode")).toEqual(["fast", "slow"]);
    expect(await chosen("mode")).toBe("fast");
    // A union of literals.
    expect(await options("level")).toEqual(["1", "2", "3"]);
    expect(await chosen("level")).toBe("2");
    expect(await look("nick")).toMatchObject({ tag: "input", type: "text", value: "" });
    expect(await look("flag")).toMatchObject({ type: "checkbox" });
    expect(JSON.parse((await look("size")).value)).toEqual({ w: 2, h: 3 });
    expect(await look("size")).toMatchObject({ tag: "textarea" });
    expect(await look("seed")).toMatchObject({ type: "number", value: "" });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("sends what the form holds, typed as the schema says, and leaves out empty optional fields", async () => {
    const { page, errors } = await openPlayground(browser, server.url, "/echo");
    await page.getByTestId("field-name").fill("x");
    await page.getByTestId("field-ratio").fill("0.25");
    await page.getByTestId("field-count").fill("3");
    await page.getByTestId("field-mode").selectOption({ label: "slow" });
    await page.getByTestId("field-level").selectOption({ label: "3" });
    await page.getByTestId("field-flag").check();
    await page.getByTestId("field-size").fill('{"w": 5, "h": 6}');
    const posted = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/echo"));
    await page.getByTestId("run").click();
    const sent = (await posted).postDataJSON();
    const run = await settled(page);
    expect(run.status, run.error).toBe("done");

    expect(sent).toEqual({
      name: "x",
      ratio: 0.25,
      count: 3,
      mode: "slow",
      level: 3,
      flag: true,
      size: { w: 5, h: 6 },
    });
    expect(
      JSON.parse((await page.getByTestId("result").locator("pre").textContent()) ?? ""),
    ).toEqual({ received: { ...sent, nick: null } });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("says which field it cannot read instead of sending the request", async () => {
    const { page, errors } = await openPlayground(browser, server.url, "/echo");
    let requests = 0;
    page.on("request", (r) => {
      if (r.method() === "POST") requests++;
    });
    await page.getByTestId("field-name").fill("x");
    await page.getByTestId("field-size").fill("{w: 5");
    await page.getByTestId("run").click();
    const error = page.getByTestId("error");
    await error.waitFor();
    expect(await error.locator("[data-field=code]").textContent()).toBe("INVALID_INPUT");
    expect(await error.locator("[data-field=message]").textContent()).toMatch(
      /^size: not valid JSON/,
    );
    expect(requests).toBe(0);
    expect(await page.getByTestId("run").isEnabled()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
