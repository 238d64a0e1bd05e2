/**
 * The playground on a server with API keys, in real Chromium: the navigation carries no key, so
 * the page (a shell without the app's title) asks for one, tries it, asks again when it is
 * refused, and then runs a stream with `Authorization: Key` on every request it sends.
 */
import type { Browser, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { serveForTest } from "../app/helpers.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { launchChromium, openPage } from "./chromium.ts";
import { settled } from "./playground-page.ts";

const KEY = "tr_pg_0123456789abcdef";

describe("the playground on a server with API keys", () => {
  let server: ServerHandle;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serveForTest(CounterApp, { auth: { keys: [KEY] } }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("asks for the key, refuses a wrong one, then streams with the right one on every request", async () => {
    const { page, errors } = await openPage(browser);
    const sent: Request[] = [];
    page.on("request", (request) => sent.push(request));

    await page.goto(`${server.url}/`);
    const form = page.getByTestId("key-form");
    await form.waitFor();
    expect(await page.getByTestId("status").getAttribute("data-status")).toBe("needs-key");
    expect(await page.getByTestId("key-message").textContent()).toBe(
      "This server needs an API key.",
    );
    // The shell names nothing of the app until a key works.
    expect(await page.title()).toBe("troupe playground");
    expect(await page.content()).not.toContain("CounterApp");

    await page.getByTestId("api-key").fill("wrong-key");
    await page.getByTestId("key-submit").click();
    await page.getByText("The server refused that key; try another.").waitFor();
    expect(await form.isVisible()).toBe(true);

    await page.getByTestId("api-key").fill(KEY);
    await page.getByTestId("key-submit").click();
    await page.locator("html[data-ready=true]").waitFor();
    expect(await form.isVisible()).toBe(false);
    expect(await page.title()).toBe("CounterApp");
    expect(await page.locator("h1").textContent()).toBe("CounterApp");

    await page.getByTestId("field-steps").fill("2");
    await page.getByTestId("run").click();
    const run = await settled(page);
    expect(run.status, run.error).toBe("done");
    expect(await page.getByTestId("result").textContent()).toContain('"progress": 1');
    expect((server.app as CounterApp).calls).toBe(1);

    // Every request after the key was given sent it; the navigation and the first try could not.
    const toServer = sent.filter((r) => r.url().startsWith(server.url));
    const authorization = await Promise.all(
      toServer.map(async (r) => (await r.allHeaders()).authorization),
    );
    const described = toServer.map(
      (r, i) => `${r.method()} ${new URL(r.url()).pathname} ${authorization[i]}`,
    );
    expect(described).toEqual([
      "GET / undefined",
      "GET /openapi.json undefined",
      "GET /openapi.json Key wrong-key",
      `GET /openapi.json Key ${KEY}`,
      // The shell names no app: the page asks the full health report for the queue's app id.
      `GET /health Key ${KEY}`,
      `POST /stream Key ${KEY}`,
    ]);

    // The key is kept for the tab: a reload does not ask again.
    await page.reload();
    await page.locator("html[data-ready=true]").waitFor();
    expect(await form.isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("another browser context asks again: the key is in no cookie, nothing the browser sends by itself", async () => {
    const { page } = await openPage(browser);
    await page.goto(`${server.url}/`);
    await page.getByTestId("key-form").waitFor();
    expect(await page.context().cookies()).toEqual([]);
    await page.close();
  });
});
