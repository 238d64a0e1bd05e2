import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dialect, SseHeader } from "../../src/events/sse-names.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { launchChromium } from "./chromium.ts";
import { openPlayground, playgroundStub, settled } from "./playground-page.ts";

// A real troupe server writes each event whole, so it cannot show that the page copes with a
// network that cuts events anywhere. This hand-written server does: it sends a dialect-2 stream in
// parts cut inside multi-byte characters and between a CR and its LF, and sends each part only
// once the page has shown what the previous one completed, so every cut is a separate read.

const encoder = new TextEncoder();
const smile = encoder.encode("🙂"); // 4 bytes
const eAcute = encoder.encode("é"); // 2 bytes

const concat = (...parts: (string | Uint8Array)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p)));

const PARTS = [
  concat(
    "retry: 1000\n\n",
    'event: queued\ndata: {"position":1}\n\n',
    "event: started\ndata: {}\n\n",
    'event: result\nid: 1\ndata: {"step":0,"progress":0.25,"text":"é—',
    smile.subarray(0, 2),
  ),
  concat(
    smile.subarray(2),
    '"}\r\n\r\n',
    // One event whose data spans two lines; the CR of the first line's CRLF ends this part.
    'event: result\nid: 2\ndata: {"step":1,\r',
  ),
  concat(
    '\ndata: "progress":0.5,"text":"🌅 ünïcödé"}\r\r',
    ": ping\n\n",
    'event: done\nid: 3\ndata: {"output":"fin ',
    eAcute.subarray(0, 1),
  ),
  concat(eAcute.subarray(1), '"}\n\n'),
];

const OPENAPI = {
  openapi: "3.1.0",
  info: { title: "chunks", version: "1" },
  paths: {
    "/chunks": {
      post: {
        "x-troupe-streaming": true,
        requestBody: {
          content: {
            "application/json": {
              schema: { type: "object", properties: { label: { type: "string", default: "x" } } },
            },
          },
        },
        responses: { "200": { content: { "text/event-stream": {} } } },
      },
    },
  },
};

describe("the playground page on a network that cuts events anywhere", () => {
  const gates = PARTS.slice(1).map(() => deferred());
  const requests: { headers: Record<string, unknown>; body: string }[] = [];
  let stub: Awaited<ReturnType<typeof playgroundStub>>;
  let browser: Browser;

  beforeAll(async () => {
    stub = await playgroundStub("chunks", OPENAPI, async (request, response, path) => {
      if (request.method !== "POST" || path !== "/chunks") return false;
      let body = "";
      for await (const chunk of request) body += chunk;
      requests.push({ headers: request.headers, body });
      response.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req-1" });
      for (const [i, part] of PARTS.entries()) {
        if (i > 0) await gates[i - 1]?.promise;
        response.write(part);
      }
      response.end();
      return true;
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const g of gates) g.resolve();
    await browser?.close();
    await stub?.close();
  });

  it("shows every event once, in order, with its characters intact", async () => {
    const { page, errors } = await openPlayground(browser, stub.url, "/chunks");
    await page.getByTestId("field-label").fill("cut");
    await page.getByTestId("run").click();
    const progress = page.getByTestId("progress");

    await page.waitForFunction(() => document.getElementById("status")?.textContent === "running");
    gates[0]?.resolve();
    await expectAttribute(page, "progress", "aria-valuenow", "25");
    gates[1]?.resolve();
    await expectAttribute(page, "progress", "aria-valuenow", "50");
    gates[2]?.resolve();
    const run = await settled(page);
    expect(run.status, run.error).toBe("done");

    expect(requests).toHaveLength(1);
    expect(requests[0]?.headers[SseHeader.dialect]).toBe(Dialect.troupe);
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({ label: "cut" });
    const log = page.getByTestId("log").locator("li");
    expect(
      await log.evaluateAll((items) => items.map((li) => li.getAttribute("data-event"))),
    ).toEqual(["queued", "started", "result", "result", "done"]);
    const texts = await log.allTextContents();
    expect(texts[2]).toBe('#1 result {"step":0,"progress":0.25,"text":"é—🙂"}');
    expect(texts[3]).toBe('#2 result {"step":1,"progress":0.5,"text":"🌅 ünïcödé"}');
    expect(await page.getByTestId("result").textContent()).toContain('"output": "fin é"');
    expect(await progress.getAttribute("aria-valuenow")).toBe("100");
    expect(await page.getByTestId("request-id").textContent()).toBe("req-1");
    expect(await page.getByTestId("error").isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});

async function expectAttribute(
  page: import("playwright-core").Page,
  testId: string,
  name: string,
  value: string,
): Promise<void> {
  await page.waitForFunction(
    ([testId, name, value]) =>
      document.querySelector(`[data-testid="${testId}"]`)?.getAttribute(name) === value,
    [testId, name, value] as const,
  );
}
