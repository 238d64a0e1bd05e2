/**
 * A page on another site (attacker.test, which Chromium is told lives at 127.0.0.1) tries what a
 * web page a user visits could try against the troupe server on their machine: start a job, with
 * a JSON POST (preflighted) and with a "simple" text/plain POST (no preflight), and read what
 * the server has. By default every attempt fails in the page and no request reaches a handler;
 * with the page's origin in `cors.origin`, the same page gets in.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServeOptions, ServerHandle } from "../../src/app/index.ts";
import { serveForTest } from "../app/helpers.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { launchChromium, openPage } from "./chromium.ts";

const ATTACKER_HOST = "attacker.test";

/** What each attempt came to, as the page saw it. */
interface Attempts {
  /** `fetch` with JSON: preflighted. */
  readonly json: string;
  /** `fetch` with a text/plain body: sent without a preflight. */
  readonly simple: string;
  /** The same, `mode: "no-cors"`: sent, answered opaquely. */
  readonly noCors: string;
  /** Reading the app's OpenAPI document. */
  readonly read: string;
}

/** Runs the attempts in `page` against `target`; each says `ok <status> <body>` or how it failed. */
function attack(page: Page, target: string): Promise<Attempts> {
  return page.evaluate(async (url) => {
    const attempt = async (path: string, init?: RequestInit): Promise<string> => {
      try {
        const response = await fetch(url + path, init);
        if (response.type === "opaque") return "opaque";
        return `ok ${response.status} ${await response.text()}`;
      } catch (error) {
        return `failed: ${(error as Error).name}`;
      }
    };
    const body = JSON.stringify({ steps: 2 });
    return {
      json: await attempt("/stream", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }),
      simple: await attempt("/stream", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body,
      }),
      noCors: await attempt("/stream", {
        method: "POST",
        mode: "no-cors",
        headers: { "content-type": "text/plain" },
        body,
      }),
      read: await attempt("/openapi.json"),
    };
  }, target);
}

/** The requests the server counted by method and status, from its own `/metrics`. */
async function counted(server: ServerHandle): Promise<string[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("troupe_http_requests_total{"))
    .map((line) => {
      const method = /method="([^"]*)"/.exec(line)?.[1];
      const status = /status="([^"]*)"/.exec(line)?.[1];
      return `${method} ${status}`;
    });
}

describe("a page on another origin", () => {
  let browser: Browser;
  let pageServer: Server;
  let pageOrigin: string;

  beforeAll(async () => {
    pageServer = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end("<!doctype html><title>A page elsewhere</title><p>Nothing to see.</p>");
    });
    await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    pageOrigin = `http://${ATTACKER_HOST}:${(pageServer.address() as AddressInfo).port}`;
    browser = await launchChromium([`--host-resolver-rules=MAP ${ATTACKER_HOST} 127.0.0.1`]);
  });

  afterAll(async () => {
    await browser?.close();
    pageServer?.closeAllConnections();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  async function attackFromPage(options: ServeOptions) {
    const server = await serveForTest(CounterApp, options);
    try {
      const { page } = await openPage(browser);
      await page.goto(`${pageOrigin}/`);
      expect(await page.evaluate(() => location.origin)).toBe(pageOrigin);
      const attempts = await attack(page, server.url);
      await page.close();
      return { attempts, calls: (server.app as CounterApp).calls, counted: await counted(server) };
    } finally {
      await server.close();
    }
  }

  it("by default can neither start a job nor read anything, and no request reaches a handler", async () => {
    const { attempts, calls, counted: seen } = await attackFromPage({});
    expect(attempts).toEqual({
      json: "failed: TypeError",
      simple: "failed: TypeError",
      noCors: "opaque",
      read: "failed: TypeError",
    });
    expect(calls).toBe(0);
    // The server did see them: the preflight, refused (no CORS answer, so 405), the simple
    // POSTs refused for their body type before the handler, the read sent but never readable.
    expect(seen).toEqual(expect.arrayContaining(["OPTIONS 405", "POST 415", "GET 200"]));
    expect(seen).not.toContain("POST 200");
  });

  it("with its origin in cors.origin, starts the job and reads the stream", async () => {
    const { attempts, calls } = await attackFromPage({ cors: { origin: [pageOrigin] } });
    expect(attempts.json).toMatch(/^ok 200 /);
    expect(attempts.json).toContain('"step":1');
    expect(attempts.read).toMatch(/^ok 200 \{/);
    // Still refused for its body type, but now the page may read why.
    expect(attempts.simple).toMatch(/^ok 415 .*UNSUPPORTED_MEDIA_TYPE/);
    expect(calls).toBe(1);
  });

  it("with another origin in cors.origin, is refused as by default", async () => {
    const { attempts, calls } = await attackFromPage({
      cors: { origin: ["http://friend.example"] },
    });
    expect(attempts.json).toBe("failed: TypeError");
    expect(attempts.read).toBe("failed: TypeError");
    expect(calls).toBe(0);
  });
});
