import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { Dialect, REQUESTS_PATH, RESUME_QUERY, SseHeader } from "../../src/events/sse-names.ts";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";
import { previewApp } from "../fixtures/browser/preview-app.ts";
import { tempDir } from "../helpers.ts";
import { launchChromium } from "./chromium.ts";
import { openPlayground, settled } from "./playground-page.ts";

/**
 * A proxy in front of the app that passes everything through, except that it cuts the first
 * streaming response after its first `result` event, when `cut` resolves, as a failing network
 * would.
 */
function droppingProxy(upstream: string): {
  server: Server;
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  cut: Deferred<void>;
} {
  const cut = deferred();
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let dropped = false;
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const forward = request(
      `${upstream}${req.url}`,
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const isStream = String(up.headers["content-type"]).startsWith("text/event-stream");
        if (dropped || req.method !== "POST" || !isStream) {
          up.pipe(res);
          return;
        }
        dropped = true;
        let held = Buffer.alloc(0);
        up.on("data", (chunk: Buffer) => {
          held = Buffer.concat([held, chunk]);
          const result = held.indexOf("event: result");
          const end = result === -1 ? -1 : held.indexOf("\n\n", result);
          if (end === -1) return;
          up.pause();
          res.write(held.subarray(0, end + 2));
          // Once the page has shown that event (cutting sooner could lose it in flight, or even
          // the headers, and Chromium retries a POST that got no response), cut both sides:
          // the browser sees a network error, the app a disconnect.
          void cut.promise.then(() => {
            res.destroy();
            up.destroy();
          });
        });
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  return { server, seen, cut };
}

describe("the playground when its connection drops mid-stream", () => {
  const markers = tempDir();
  let app: ServerHandle;
  let proxy: ReturnType<typeof droppingProxy>;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    [app, browser] = await Promise.all([
      serve(previewApp({ markerDir: markers.path }), {
        port: 0,
        logger: pino({ level: "silent" }),
        retry: 20,
      }),
      launchChromium(),
    ]);
    proxy = droppingProxy(app.url);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    proxy?.cut.resolve();
    await browser?.close();
    proxy?.server.closeAllConnections();
    await new Promise((resolve) => proxy?.server.close(resolve));
    await app?.close();
    markers[Symbol.dispose]();
  });

  it("resumes after the last event it read and shows every event exactly once", async () => {
    const { page, errors } = await openPlayground(browser, url, "/generate");
    await page.getByTestId("field-prompt").fill("through a bad network");
    await page.getByTestId("field-steps").fill("5");
    await page.getByTestId("run").click();
    await page.getByTestId("log").locator("li[data-event=result]").first().waitFor();
    proxy.cut.resolve();
    const run = await settled(page);
    expect(run.status, run.error).toBe("done");

    const requestId = (await page.getByTestId("request-id").textContent()) ?? "";
    expect(requestId).toMatch(/\S/);
    // troupe/client resumes at the endpoint's own path, naming the request.
    const resumes = proxy.seen.filter((r) => r.method === "GET" && r.url.startsWith("/generate"));
    expect(resumes).toHaveLength(1);
    expect(resumes[0]?.url).toBe(`/generate?${RESUME_QUERY}=${encodeURIComponent(requestId)}`);
    expect(resumes[0]?.headers[SseHeader.lastEventId]).toBe("1");
    expect(resumes[0]?.headers[SseHeader.dialect]).toBe(Dialect.troupe);
    expect(proxy.seen.filter((r) => r.url.startsWith(`${REQUESTS_PATH}/`))).toEqual([]);
    expect(proxy.seen.filter((r) => r.method === "POST")).toHaveLength(1);

    const log = await page
      .getByTestId("log")
      .locator("li")
      .evaluateAll((items) =>
        items.map((li) => [li.getAttribute("data-event"), li.textContent ?? ""] as const),
      );
    // State events (queued, started) carry no id and may be sent again on the new connection;
    // the events with ids must each come exactly once.
    const kinds = log
      .map(([kind]) => kind)
      .filter((kind) => kind !== "queued" && kind !== "started");
    expect(kinds).toEqual(["result", "resume", "result", "result", "result", "result", "done"]);
    const results = log.filter(([kind]) => kind === "result").map(([, text]) => text);
    expect(results.map((text) => text.slice(0, text.indexOf(" ")))).toEqual([
      "#1",
      "#2",
      "#3",
      "#4",
      "#5",
    ]);
    expect(log.find(([kind]) => kind === "resume")?.[1]).toMatch(/after event #1$/);
    expect(results.map((text) => JSON.parse(text.slice(text.indexOf("{"))).step)).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(await page.getByTestId("progress").getAttribute("aria-valuenow")).toBe("100");
    expect(await page.getByTestId("result").locator("pre").textContent()).toContain(
      '"prompt": "through a bad network"',
    );
    expect(await page.getByTestId("error").isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
