/**
 * fal's queue API on one server (the in-process store), through the real @fal-ai/client: every
 * `queue.*` call, `subscribe` in both modes, and the refusals it meets, fal-shaped.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError, createFalClient } from "@fal-ai/client";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { verifyWebhook, type WebhookJwks } from "../../src/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { waitForFile } from "../helpers.ts";
import { serveForTest } from "./helpers.ts";

const APP_ID = "local/scenario-app";

let server: ServerHandle;
let dir: string;

beforeAll(async () => {
  server = await serveForTest(ScenarioApp);
  dir = mkdtempSync(join(tmpdir(), "troupe-queue-"));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** fal's client with its two hosts pointed at the server: the queue under `/queue`. */
function falClient() {
  return createFalClient({
    requestMiddleware: async (request) => ({
      ...request,
      url: request.url
        .replace("https://queue.fal.run", `${server.url}/queue`)
        .replace("https://fal.run", server.url),
    }),
  });
}

/** Reads an SSE response to its end: each event's data, parsed. */
async function readSse(
  response: Response,
): Promise<{ event?: string; id?: string; data: unknown }[]> {
  const events: { event?: string; id?: string; data: unknown }[] = [];
  const parser = createParser({
    onEvent: (m) => events.push({ event: m.event, id: m.id, data: JSON.parse(m.data) }),
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
  }
  return events;
}

/** A webhook receiver on port 0: the first POST it gets, headers and body. */
async function webhookReceiver(): Promise<{
  url: string;
  received: Promise<{ headers: IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}> {
  const received = deferred<{ headers: IncomingHttpHeaders; body: string }>();
  const receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      response.end();
      received.resolve({ headers: request.headers, body });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const { port } = receiver.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received: received.promise,
    close: () => new Promise((resolve) => receiver.close(() => resolve())),
  };
}

describe("fal's queue API through @fal-ai/client", () => {
  it("subscribe (polling) submits, reports queue updates and returns the result", async () => {
    const fal = falClient();
    const updates: string[] = [];
    const result = await fal.subscribe(APP_ID, {
      input: { op: "echo", value: { hello: "queue" } },
      pollInterval: 10,
      onQueueUpdate: (update) => updates.push(update.status),
    });
    expect(result.data).toEqual({ hello: "queue" });
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(updates.at(-1)).toBe("COMPLETED");
  });

  it("subscribe (streaming) follows the status stream to the result of a streaming endpoint", async () => {
    const fal = falClient();
    const updates: string[] = [];
    const result = await fal.subscribe(`${APP_ID}/objects`, {
      input: { op: "burst", count: 3 },
      mode: "streaming",
      onQueueUpdate: (update) => updates.push(update.status),
    });
    // A streaming endpoint's result is its runner's final result: rank 0's return value.
    expect(result.data).toEqual({ count: 3 });
    expect(updates).toContain("COMPLETED");
  });

  it("submit, status, streamStatus and result each answer as fal's queue does", async () => {
    const fal = falClient();
    const submitted = await fal.queue.submit(APP_ID, { input: { op: "echo", value: 7 } });
    expect(submitted).toMatchObject({
      request_id: expect.any(String),
      status: "IN_QUEUE",
      queue_position: expect.any(Number),
    });
    const id = submitted.request_id;
    expect(submitted.status_url).toBe(`${server.url}/queue/${APP_ID}/requests/${id}/status`);
    const stream = await fal.queue.streamStatus(APP_ID, { requestId: id, logs: true });
    const completed = await stream.done();
    expect(completed).toMatchObject({ status: "COMPLETED", request_id: id });
    const status = await fal.queue.status(APP_ID, { requestId: id, logs: true });
    expect(status).toMatchObject({
      status: "COMPLETED",
      metrics: { inference_time: expect.any(Number) },
    });
    const result = await fal.queue.result(APP_ID, { requestId: id });
    expect(result).toEqual({ data: 7, requestId: id });
  });

  it("cancel of a running request reaches its ranks; the request completes with ABORTED", async () => {
    const fal = falClient();
    const { request_id: id } = await fal.queue.submit(`${APP_ID}/hold`, { input: { dir } });
    // The hold worker writes `started-0` once its call() runs, then waits for its signal.
    await waitForFile(join(dir, "started-0"));
    await fal.queue.cancel(APP_ID, { requestId: id });
    const stream = await fal.queue.streamStatus(APP_ID, { requestId: id });
    const done = await stream.done();
    expect(done).toMatchObject({ status: "COMPLETED", error_type: "ABORTED" });
    await waitForFile(join(dir, "aborted-0"));
    const failed = await fal.queue.result(APP_ID, { requestId: id }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ApiError);
    expect(
      await fal.queue.cancel(APP_ID, { requestId: id }).catch((e: unknown) => e),
    ).toMatchObject({ status: 400, body: { status: "ALREADY_COMPLETED" } });
  });

  it("a malformed input is refused with fal's 422 before it is queued", async () => {
    const fal = falClient();
    const refused = await fal.queue.submit(APP_ID, { input: {} }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 422 });
  });

  it("an unknown app id, a malformed and an unknown request id are fal-shaped 404s", async () => {
    const unknownApp = await fetch(`${server.url}/queue/someone/else`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(unknownApp.status).toBe(404);
    expect(await unknownApp.json()).toMatchObject({
      detail: expect.any(String),
      error: { code: "NOT_FOUND" },
    });
    for (const id of ["not-a-uuid", "00000000-0000-4000-8000-000000000000"]) {
      const status = await fetch(`${server.url}/queue/${APP_ID}/requests/${id}/status`);
      expect(status.status).toBe(404);
      expect(await status.json()).toMatchObject({ detail: expect.any(String) });
    }
  });

  it("serves a queued request's events in troupe's dialect, and resumes after Last-Event-ID", async () => {
    const fal = falClient();
    const { request_id: id } = await fal.queue.submit(`${APP_ID}/objects`, {
      input: { op: "burst", count: 4 },
    });
    const url = `${server.url}/queue/${APP_ID}/requests/${id}/events`;
    const all = await readSse(await fetch(url));
    const numbered = all.filter((e) => e.id !== undefined);
    expect(numbered.map((e) => e.event)).toEqual([
      "started",
      "result",
      "result",
      "result",
      "result",
      "result",
      "done",
    ]);
    expect(numbered.at(-1)?.data).toEqual({ count: 4 });
    const lastSeen = numbered[2]?.id as string;
    const resumed = await readSse(await fetch(url, { headers: { "last-event-id": lastSeen } }));
    expect(resumed).toEqual(numbered.slice(3));
  });

  it("/health and /metrics say how the queue is", async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
    expect(health.queue).toEqual({ appId: APP_ID, store: "memory", connected: true, queued: 0 });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^troupe_queue_waiting 0$/m);
    expect(metrics).toMatch(/^troupe_queue_store_connected 1$/m);
  });

  it("reports what the ranks print while a request runs as its logs", async () => {
    const fal = falClient();
    const { request_id: id } = await fal.queue.submit(APP_ID, {
      input: { op: "print", text: "hi" },
    });
    await (await fal.queue.streamStatus(APP_ID, { requestId: id })).done();
    const status = (await fal.queue.status(APP_ID, { requestId: id, logs: true })) as unknown as {
      logs: { message: string; level: string; source: string; timestamp: string }[];
    };
    const lines = status.logs.map((l) => `${l.level} ${l.message}`).sort();
    expect(lines).toEqual([
      "STDERR stderr of rank 0",
      "STDERR stderr of rank 1",
      "STDOUT [rank 0] hi",
      "STDOUT [rank 1] hi",
    ]);
    expect(status.logs[0]).toMatchObject({ source: "USER", timestamp: expect.any(String) });
  });

  it("POSTs a signed webhook on completion that verifies against the server's published keys", async () => {
    const receiver = await webhookReceiver();
    try {
      const fal = falClient();
      const { request_id: id } = await fal.queue.submit(APP_ID, {
        input: { op: "echo", value: "hooked" },
        webhookUrl: receiver.url,
      });
      const { headers, body } = await receiver.received;
      const jwks = (await (
        await fetch(`${server.url}/.well-known/jwks.json`)
      ).json()) as WebhookJwks;
      expect(verifyWebhook({ headers, body, jwks })).toBe(true);
      expect(verifyWebhook({ headers, body: body.replace("hooked", "forged"), jwks })).toBe(false);
      expect(JSON.parse(body)).toMatchObject({
        request_id: id,
        gateway_request_id: id,
        status: "OK",
        payload: "hooked",
      });
    } finally {
      await receiver.close();
    }
  });

  it("refuses a fal_webhook that is not an http(s) URL, before queueing", async () => {
    const response = await fetch(
      `${server.url}/queue/${APP_ID}?fal_webhook=${encodeURIComponent("file:///etc/passwd")}`,
      { method: "POST", headers: { "content-type": "application/json" }, body: '{"op":"echo"}' },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "INVALID_WEBHOOK_URL" } });
  });

  it("a queued request cancelled before it ran completes ABORTED, and its webhook says ERROR", async () => {
    const one = await serveForTest(ScenarioApp, { queue: { concurrency: 1 } });
    const receiver = await webhookReceiver();
    const holding = mkdtempSync(join(tmpdir(), "troupe-queue-one-"));
    try {
      const post = async (path: string, body: unknown, query = "") =>
        (await (
          await fetch(`${one.url}/queue/${APP_ID}${path}${query}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          })
        ).json()) as { request_id: string; queue_position: number };
      const running = await post("/hold", { dir: holding });
      await waitForFile(join(holding, "started-0"));
      const hook = encodeURIComponent(receiver.url);
      const queued = await post("", { op: "echo", value: 1 }, `?fal_webhook=${hook}`);
      expect(queued.queue_position).toBe(0);
      const cancel = await fetch(
        `${one.url}/queue/${APP_ID}/requests/${queued.request_id}/cancel`,
        {
          method: "PUT",
        },
      );
      expect(cancel.status).toBe(202);
      expect(JSON.parse((await receiver.received).body)).toMatchObject({
        request_id: queued.request_id,
        status: "ERROR",
      });
      const status = await fetch(`${one.url}/queue/${APP_ID}/requests/${queued.request_id}/status`);
      expect(await status.json()).toMatchObject({ status: "COMPLETED", error_type: "ABORTED" });
      await fetch(`${one.url}/queue/${APP_ID}/requests/${running.request_id}/cancel`, {
        method: "PUT",
      });
      await waitForFile(join(holding, "aborted-0"));
    } finally {
      await receiver.close();
      await one.close();
      rmSync(holding, { recursive: true, force: true });
    }
  });

  it("a queued request whose x-fal-request-timeout runs out while it waits completes REQUEST_TIMEOUT there", async () => {
    const one = await serveForTest(ScenarioApp, { queue: { concurrency: 1 } });
    const receiver = await webhookReceiver();
    const holding = mkdtempSync(join(tmpdir(), "troupe-queue-one-"));
    try {
      const submit = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
        (await (
          await fetch(`${one.url}/queue/${APP_ID}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: JSON.stringify(body),
          })
        ).json()) as { request_id: string; queue_position: number };
      const running = await submit("/hold", { dir: holding });
      await waitForFile(join(holding, "started-0"));
      const hook = encodeURIComponent(receiver.url);
      const queued = await submit(
        `?fal_webhook=${hook}`,
        { op: "echo", value: 1 },
        {
          "x-fal-request-timeout": "0.2",
        },
      );
      expect(queued.queue_position).toBe(0);
      // The runner is still held: only the timeout can end it.
      expect(JSON.parse((await receiver.received).body)).toMatchObject({
        request_id: queued.request_id,
        status: "ERROR",
      });
      const base = `${one.url}/queue/${APP_ID}/requests`;
      const status = await fetch(`${base}/${queued.request_id}/status`);
      expect(await status.json()).toMatchObject({
        status: "COMPLETED",
        error_type: "REQUEST_TIMEOUT",
      });
      const result = await fetch(`${base}/${queued.request_id}`);
      expect(result.status).toBe(504);
      expect(
        await fetch(`${base}/${running.request_id}/status`).then((r) => r.json()),
      ).toMatchObject({ status: "IN_PROGRESS" });
      await fetch(`${base}/${running.request_id}/cancel`, { method: "PUT" });
      await waitForFile(join(holding, "aborted-0"));
    } finally {
      await receiver.close();
      await one.close();
      rmSync(holding, { recursive: true, force: true });
    }
  });

  it("keeps only the newest result of each latest-wins key of a queued request", async () => {
    const fal = falClient();
    const { request_id: id } = await fal.queue.submit(`${APP_ID}/objects`, {
      input: { op: "burst", count: 5, key: "preview" },
    });
    await (await fal.queue.streamStatus(APP_ID, { requestId: id })).done();
    const events = await readSse(
      await fetch(`${server.url}/queue/${APP_ID}/requests/${id}/events`),
    );
    const results = events.filter((e) => e.event === "result").map((e) => e.data);
    // The previews 0..4 share a key: the newest stands for them; the last result has none.
    expect(results).toEqual([{ i: 4 }, { i: 5, last: true }]);
  });
});
