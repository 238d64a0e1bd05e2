/**
 * DNS rebinding in real Chromium: rebind.test resolves to 127.0.0.1 (`--host-resolver-rules`),
 * as an attacker's name does once it has been rebound, so the page's requests reach the troupe
 * server on this machine as same-origin ones, with `Host: rebind.test:<port>`. The server
 * refuses them all unless `allowedHosts` names the host.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServeOptions, ServerHandle } from "../../src/app/index.ts";
import { serveForTest } from "../app/helpers.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { launchChromium, openPage } from "./chromium.ts";

const REBOUND_HOST = "rebind.test";

/** The attacker's page, as it was served before the name was rebound. */
const ATTACK_PAGE = "/attack.html";

describe("a page whose host name was rebound to 127.0.0.1", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium([
      `--host-resolver-rules=MAP ${REBOUND_HOST} 127.0.0.1`,
      // Chromium's own guard (a public page may not call a loopback address) is off, as it is
      // in other browsers and older Chromium: what is tested is that the server refuses.
      "--disable-features=LocalNetworkAccessChecks",
    ]);
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function withServer(
    options: ServeOptions,
    body: (server: ServerHandle, origin: string, page: Page) => Promise<void>,
  ): Promise<void> {
    const server = await serveForTest(CounterApp, { host: "127.0.0.1", ...options });
    const { page } = await openPage(browser);
    try {
      await body(server, `http://${REBOUND_HOST}:${server.port}`, page);
    } finally {
      await page.close();
      await server.close();
    }
  }

  /** Loads the attacker's page at `origin` (from Playwright, standing in for the attacker's server). */
  async function openAttackPage(page: Page, origin: string): Promise<void> {
    await page.route(`${origin}${ATTACK_PAGE}`, (route) =>
      route.fulfill({ contentType: "text/html", body: "<!doctype html><title>evil</title>" }),
    );
    await page.goto(`${origin}${ATTACK_PAGE}`);
  }

  /** From the page: a same-origin POST that starts a job, and reads the answer. */
  const startJob = (page: Page) =>
    page.evaluate(async () => {
      const response = await fetch("/stream", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ steps: 1 }),
      });
      return { status: response.status, text: await response.text() };
    });

  it("gets 403 HOST_NOT_ALLOWED for the playground, not the playground", () =>
    withServer({}, async (_server, origin, page) => {
      const response = await page.goto(`${origin}/`);
      expect(response?.status()).toBe(403);
      const text = await response?.text();
      expect(JSON.parse(text ?? "")).toMatchObject({ error: { code: "HOST_NOT_ALLOWED" } });
      expect(await page.locator("#endpoint").count()).toBe(0);
    }));

  it("cannot start a job or read the app's document, and no request reaches a handler", () =>
    withServer({}, async (server, origin, page) => {
      await openAttackPage(page, origin);
      const started = await startJob(page);
      expect(started.status).toBe(403);
      expect(started.text).toContain('"code":"HOST_NOT_ALLOWED"');
      const read = await page.evaluate(async () => (await fetch("/openapi.json")).status);
      expect(read).toBe(403);
      expect((server.app as CounterApp).calls).toBe(0);
    }));

  it("is let in when allowedHosts names the host: the playground loads and a job runs", () =>
    withServer({ allowedHosts: [REBOUND_HOST] }, async (server, origin, page) => {
      const response = await page.goto(`${origin}/`);
      expect(response?.status()).toBe(200);
      await page.locator("html[data-ready=true]").waitFor();
      const started = await startJob(page);
      expect(started.status).toBe(200);
      expect(started.text).toContain('"step":0');
      expect((server.app as CounterApp).calls).toBe(1);
    }));
});
