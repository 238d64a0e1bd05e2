/**
 * The playground's queue view in real Chromium: requests submitted to the app's queue are listed
 * with their live status and position (from their status streams), the result or the error once
 * they complete, and a cancel button; the page learns the app id from the page the server
 * renders, or, behind API keys, from `/health`.
 */
import type { Browser, Locator, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { App, type EndpointContext, endpoint, type ServerHandle } from "../../src/app/index.ts";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";
import { serveForTest } from "../app/helpers.ts";
import { launchChromium, openPage } from "./chromium.ts";
import { openPlayground, playgroundStub } from "./playground-page.ts";

/** Requests to `/gate` wait until the test opens their gate (or they are cancelled). */
class GateApp extends App {
  private readonly gates = new Map<string, { entered: Deferred<void>; open: Deferred<void> }>();

  gate(name: string) {
    let gate = this.gates.get(name);
    if (gate === undefined) {
      gate = { entered: deferred(), open: deferred() };
      this.gates.set(name, gate);
    }
    return gate;
  }

  @endpoint("/gate", { input: z.object({ name: z.string() }), summary: "Waits for its gate" })
  async wait(input: { name: string }, ctx: EndpointContext) {
    const gate = this.gate(input.name);
    gate.entered.resolve();
    const aborted = new Promise<never>((_, reject) =>
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }),
    );
    await Promise.race([gate.open.promise, aborted]);
    return { opened: input.name };
  }

  @endpoint("/echo", { input: z.object({ text: z.string() }) })
  async echo(input: { text: string }) {
    return { echoed: input.text };
  }

  /** A rule the page's form cannot know of: the server's 422 is the only refusal. */
  @endpoint("/picky", {
    input: z.object({ word: z.string().refine((w) => w !== "no", "not that word") }),
  })
  async picky(input: { word: string }) {
    return input;
  }

  @endpoint("/fail", { input: z.object({}) })
  async fail(): Promise<never> {
    throw new Error("the gate is stuck");
  }
}

/** The queued list's entries, newest first. */
const entries = (page: Page) => page.getByTestId("queued-request");

/** Submits the form as it is to the queue; resolves with the new entry. */
async function submitQueued(page: Page): Promise<Locator> {
  const before = await entries(page).count();
  await page.getByTestId("run").click();
  await entries(page).nth(before).waitFor();
  const id = await entries(page).first().getAttribute("data-request-id");
  return page.locator(`[data-testid=queued-request][data-request-id="${id}"]`);
}

/** Waits until `entry` shows `status` (and, when given, `position`). */
async function until(entry: Locator, status: string, position?: number): Promise<void> {
  const where = position === undefined ? "" : `[data-position="${position}"]`;
  await entry.and(entry.page().locator(`[data-status=${status}]${where}`)).waitFor();
}

describe("the playground's queue view", () => {
  let server: ServerHandle;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serveForTest(GateApp, { queue: { concurrency: 1 } }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("lists queued requests with live positions, results, errors and a cancel button", async () => {
    const app = server.app as GateApp;
    const { page, errors } = await openPlayground(browser, server.url, "/gate");
    expect(await page.getByTestId("queue-panel").isVisible()).toBe(false);
    await page.getByTestId("via-queue").check();

    await page.getByTestId("field-name").fill("first");
    const first = await submitQueued(page);
    expect(await page.getByTestId("queue-panel").isVisible()).toBe(true);
    await app.gate("first").entered.promise;
    await until(first, "IN_PROGRESS");

    await page.getByTestId("field-name").fill("second");
    const second = await submitQueued(page);
    await until(second, "IN_QUEUE", 0);
    expect(await second.locator("[data-field=state]").textContent()).toBe("next in line");

    await page.getByTestId("endpoint").selectOption({ label: "POST /echo" });
    await page.getByTestId("field-text").fill("hello");
    const echo = await submitQueued(page);
    await until(echo, "IN_QUEUE", 1);
    expect(await echo.locator("[data-field=path]").textContent()).toBe("POST /echo");

    // Cancelled while it waits: it leaves the queue, and the one behind it moves up.
    await second.getByTestId("queued-cancel").click();
    await until(second, "CANCELLED");
    expect(await second.locator("[data-field=result]").textContent()).toMatch(/^ABORTED: /);
    expect(await second.getByTestId("queued-cancel").isDisabled()).toBe(true);
    await until(echo, "IN_QUEUE", 0);

    app.gate("first").open.resolve();
    await until(first, "COMPLETED");
    expect(JSON.parse((await first.locator("[data-field=result]").textContent()) ?? "")).toEqual({
      opened: "first",
    });
    await until(echo, "COMPLETED");
    expect(JSON.parse((await echo.locator("[data-field=result]").textContent()) ?? "")).toEqual({
      echoed: "hello",
    });

    await page.getByTestId("endpoint").selectOption({ label: "POST /fail" });
    const failed = await submitQueued(page);
    await until(failed, "FAILED");
    expect(await failed.locator("[data-field=result]").textContent()).toBe(
      "INTERNAL: the gate is stuck",
    );
    // Newest first; the direct run's output panel was left alone.
    expect(await entries(page).count()).toBe(4);
    expect(await entries(page).first().getAttribute("data-request-id")).toBe(
      await failed.getAttribute("data-request-id"),
    );
    expect(await page.getByTestId("status").getAttribute("data-status")).toBe("idle");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("cancels a running request from its button, and shows a refused submission in the error panel", async () => {
    const app = server.app as GateApp;
    const { page, errors } = await openPlayground(browser, server.url, "/gate");
    await page.getByTestId("via-queue").check();
    await page.getByTestId("field-name").fill("held");
    const held = await submitQueued(page);
    await app.gate("held").entered.promise;
    await until(held, "IN_PROGRESS");
    await held.getByTestId("queued-cancel").click();
    await until(held, "CANCELLED");
    expect(await held.locator("[data-field=note]").textContent()).toBe("CANCELLATION_REQUESTED");

    // A body the endpoint refuses never reaches the queue: the server's 422 is shown as a run's.
    await page.getByTestId("endpoint").selectOption({ label: "POST /picky" });
    await page.getByTestId("field-word").fill("no");
    await page.getByTestId("run").click();
    await page.locator("[data-testid=status][data-status=failed]").waitFor();
    expect(await page.getByTestId("error").locator("[data-field=code]").textContent()).toBe(
      "VALIDATION_FAILED",
    );
    expect(await entries(page).count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe("the playground's queue view behind API keys", () => {
  const KEY = "tr_pg_queue_0123456789";
  let server: ServerHandle;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      serveForTest(GateApp, { auth: { keys: [KEY] }, appId: "team/gates" }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("learns the app id from /health and sends the key on every queue request", async () => {
    const { page, errors } = await openPage(browser);
    const sent: Request[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/queue/team/gates/")) sent.push(r);
    });
    await page.goto(`${server.url}/?endpoint=/echo`);
    await page.getByTestId("api-key").fill(KEY);
    await page.getByTestId("key-submit").click();
    await page.locator("html[data-ready=true]").waitFor();
    await page.getByTestId("via-queue").check();
    await page.getByTestId("field-text").fill("keyed");
    const echo = await submitQueued(page);
    await until(echo, "COMPLETED");
    expect(await echo.locator("[data-field=result]").textContent()).toContain('"echoed": "keyed"');
    expect(await echo.locator("[data-field=request-id]").textContent()).toMatch(/^[0-9a-f-]{36}$/);
    // The submission, the status stream and the result, each with the key.
    const described = await Promise.all(
      sent.map(async (r) => `${r.method()} ${(await r.allHeaders()).authorization}`),
    );
    expect(described).toEqual([`POST Key ${KEY}`, `GET Key ${KEY}`, `GET Key ${KEY}`]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe("the playground without a queue", () => {
  it("offers no queue when neither the page nor /health names an app id", async () => {
    const openapi = {
      openapi: "3.1.0",
      info: { title: "Plain" },
      paths: { "/echo": { post: { summary: "Echo" } } },
    };
    const stub = await playgroundStub("Plain", openapi, () => false);
    const browser = await launchChromium();
    try {
      const { page, errors } = await openPlayground(browser, stub.url, "/echo");
      expect(await page.getByTestId("via-queue").isVisible()).toBe(false);
      expect(await page.getByTestId("queue-panel").isVisible()).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await stub.close();
    }
  });
});
