/**
 * A replica whose Redis goes away mid-run (SIGKILL of a real redis-server that keeps its data on
 * disk) and comes back: the running request goes on, new submissions get 503 QUEUE_UNAVAILABLE
 * (nothing accepted that could not be recorded), /health and /metrics say so, and after Redis
 * returns the request completes and nothing accepted is lost. Also: a request past its retention
 * is a fal-shaped 404.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { serveForTest } from "../app/helpers.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { RedisServer } from "../fixtures/redis-server.ts";
import { tempDir, waitForFile } from "../helpers.ts";

const APP_ID = "local/scenario-app";

let redis: RedisServer;
let server: ServerHandle;

beforeAll(async () => {
  redis = await RedisServer.start({ persistent: true });
  server = await serveForTest(ScenarioApp, { redis: redis.url });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

const submit = (path: string, body: unknown) =>
  fetch(`${server.url}/queue/${APP_ID}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function health(): Promise<{ queue: { connected: boolean; store: string } }> {
  return (await (await fetch(`${server.url}/health`)).json()) as {
    queue: { connected: boolean; store: string };
  };
}

describe("a replica while its Redis is away", () => {
  it("keeps its running request, refuses new ones with 503, and loses nothing once Redis is back", async () => {
    using dir = tempDir();
    const held = await submit("/hold", { dir: dir.path });
    expect(held.status).toBe(200);
    const { request_id: id } = (await held.json()) as { request_id: string };
    await waitForFile(join(dir.path, "started-0"));
    expect((await health()).queue).toMatchObject({ store: "redis", connected: true });

    await redis.kill();
    await vi.waitFor(async () => expect((await health()).queue.connected).toBe(false), {
      timeout: 10_000,
    });
    const refused = await submit("", { op: "echo", value: 1 });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({
      error: { code: "QUEUE_UNAVAILABLE" },
      detail: expect.any(String),
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^troupe_queue_store_connected 0$/m);

    await redis.restart();
    await vi.waitFor(async () => expect((await health()).queue.connected).toBe(true), {
      timeout: 15_000,
    });
    // The request accepted before the outage is still there, still running, and can be ended.
    const cancel = await fetch(`${server.url}/queue/${APP_ID}/requests/${id}/cancel`, {
      method: "PUT",
    });
    expect(cancel.status).toBe(202);
    await waitForFile(join(dir.path, "aborted-0"));
    await vi.waitFor(
      async () => {
        const status = await fetch(`${server.url}/queue/${APP_ID}/requests/${id}/status`);
        expect(await status.json()).toMatchObject({ status: "COMPLETED", error_type: "ABORTED" });
      },
      { timeout: 10_000 },
    );
    // And the queue takes new work again.
    const again = await submit("", { op: "echo", value: 2 });
    expect(again.status).toBe(200);
  }, 60_000);
});

describe("retention", () => {
  it("answers a request past its retention with a fal-shaped 404", async () => {
    const brief = await serveForTest(ScenarioApp, { queue: { retention: 50 } });
    try {
      const submitted = await fetch(`${brief.url}/queue/${APP_ID}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ op: "echo", value: 1 }),
      });
      const { request_id: id } = (await submitted.json()) as { request_id: string };
      const status = `${brief.url}/queue/${APP_ID}/requests/${id}/status`;
      // It completes, then is forgotten once its retention has passed.
      await vi.waitFor(async () => expect((await fetch(status)).status).toBe(404), {
        timeout: 10_000,
      });
      const gone = await fetch(`${brief.url}/queue/${APP_ID}/requests/${id}`);
      expect(gone.status).toBe(404);
      expect(await gone.json()).toMatchObject({
        error: { code: "NOT_FOUND" },
        detail: expect.any(String),
      });
    } finally {
      await brief.close();
    }
  });
});
