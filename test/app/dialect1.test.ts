import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HeartbeatTimers, ServerHandle } from "../../src/app/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import SeedApp from "../fixtures/app/seed-app.ts";
import { tempDir, waitForFile } from "../helpers.ts";
import { parseHead, postJson, RawExchange, serveForTest } from "./helpers.ts";

describe("the seed app, fal's dialect", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(SeedApp);
  });
  afterAll(() => server.close());

  it("sends exactly fal's bytes: one `data:` event per result, the final result last", async () => {
    const exchange = await RawExchange.post(server, "/stream", { prompt: "A sunset", steps: 3 });
    const text = await exchange.ended;
    const { status, headers } = parseHead(text);
    expect(status).toBe(200);
    expect(headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(headers["cache-control"]).toBe("no-cache");
    expect(headers["x-accel-buffering"]).toBe("no");
    expect(headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(exchange.body).toBe(
      'data: {"step":0,"progress":0.3333333333333333}\n\n' +
        'data: {"step":1,"progress":0.6666666666666666}\n\n' +
        'data: {"step":2,"progress":1}\n\n' +
        'data: {"output":"A sunset (none, 3 steps, streamed)"}\n\n',
    );
  });

  it("is read by the seed's fetch reader unchanged", async () => {
    const response = await postJson(server, "/stream", { prompt: "A sunset", steps: 20 });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const steps: number[] = [];
    let last: unknown;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const event of decoder.decode(value).split("\n\n")) {
        if (event.startsWith("data: ")) {
          const data = JSON.parse(event.slice(6));
          if ("step" in data) steps.push(data.step);
          else last = data;
        }
      }
    }
    expect(steps).toEqual([...Array(20).keys()]);
    expect(last).toEqual({ output: "A sunset (none, 20 steps, streamed)" });
  });

  it("answers a non-streaming endpoint with the JSON result, defaults filled by the schema", async () => {
    const response = await postJson(server, "/", { prompt: "x" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ output: "x (none, 20 steps, invoked)" });
  });
});

describe("the scenario app, fal's dialect", () => {
  let server: ServerHandle;
  const beats: (() => void)[] = [];
  const timers: HeartbeatTimers = {
    setInterval: (callback) => {
      beats.push(callback);
      return beats.length - 1;
    },
    clearInterval: (handle) => {
      beats[handle as number] = () => {};
    },
  };
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { timers });
  });
  afterAll(() => server.close());

  it("cancels the request on every rank when the client disconnects, and runs the next one", async () => {
    using dir = tempDir();
    const exchange = await RawExchange.post(server, "/stream", { op: "waitAbort", dir: dir.path });
    await exchange.until((text) => text.includes('data: {"running":true}\n\n'));
    exchange.socket.destroy();
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
    const next = await postJson(server, "/", { op: "echo", value: 42 });
    expect(await next.json()).toBe(42);
  });

  it("cancels on every rank when a fetch reader aborts", async () => {
    using dir = tempDir();
    const response = await postJson(server, "/stream", { op: "waitAbort", dir: dir.path });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
  });

  it("writes a `: ping` comment on each heartbeat tick of an idle stream", async () => {
    using dir = tempDir();
    const before = beats.length;
    const exchange = await RawExchange.post(server, "/stream", { op: "waitAbort", dir: dir.path });
    await exchange.until((text) => text.includes("running"));
    expect(beats.length).toBe(before + 1);
    beats[before]?.(); // something was written since the last tick: no ping needed
    beats[before]?.();
    await exchange.until((text) => text.endsWith(": ping\n\n"));
    expect(exchange.body.match(/: ping/g)).toHaveLength(1);
    exchange.socket.destroy();
    // Both ranks write their marker; the directory goes only after the last of them.
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
  });

  it("ends a failed request with one named error event that fal readers skip", async () => {
    const exchange = await RawExchange.post(server, "/stream", {
      op: "throw",
      rank: 1,
      message: "boom",
    });
    await exchange.ended;
    const events = exchange.events;
    expect(events).toHaveLength(1);
    expect(events[0]?.event).toBe("error");
    const data = JSON.parse(events[0]?.data ?? "");
    expect(data.fatal).toBe(true);
    expect(data.error.code).toBe("CALL_FAILED");
    expect(data.error.rank).toBe(1);
  });

  it("streams a plain generator's objects as data events, and its failure as a fatal error event", async () => {
    const exchange = await RawExchange.post(server, "/items", { count: 3, fail: true });
    await exchange.ended;
    expect(exchange.body).toMatch(
      /^data: \{"i":0\}\n\ndata: \{"i":1\}\n\ndata: \{"i":2\}\n\nevent: error\ndata: \{"error":\{"name":"Error","code":"INTERNAL","message":"generator failed","requestId":"[^"]+"\},"fatal":true\}\n\n$/,
    );
  });

  it("passes SSE bytes through untouched, even split inside a character", async () => {
    const exchange = await RawExchange.post(server, "/text", { count: 2 });
    await exchange.ended;
    expect(exchange.body).toBe('data: {"i":0,"s":"é"}\n\ndata: {"i":1,"s":"é"}\n\n');
  });

  it("streams a RunnerStream of objects as data events", async () => {
    const exchange = await RawExchange.post(server, "/objects", { op: "burst", count: 2 });
    await exchange.ended;
    expect(exchange.body).toBe(
      'data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2,"last":true}\n\ndata: {"count":2}\n\n',
    );
  });

  it("delivers 5,000 back-to-back results exactly once and in order", async () => {
    const exchange = await RawExchange.post(server, "/stream", { op: "burst", count: 5000 });
    await exchange.ended;
    const events = exchange.events.map((e) => JSON.parse(e.data));
    expect(events).toHaveLength(5002);
    expect(events.slice(0, 5000).map((e) => e.i)).toEqual([...Array(5000).keys()]);
    expect(events.at(-1)).toEqual({ count: 5000 });
  });

  it("answers with an id of its own, whatever x-request-id the client proposed", async () => {
    const exchange = await RawExchange.post(
      server,
      "/stream",
      { op: "burst", count: 0 },
      { "x-request-id": "client-chosen.id-1" },
    );
    await exchange.ended;
    expect(parseHead(exchange.text).headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
