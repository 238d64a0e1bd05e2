import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { App, endpoint, type ServerHandle, StreamingResponse } from "../../src/app/index.ts";
import { DistributedRunner } from "../../src/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import type ScenarioWorker from "../fixtures/scenario-worker.ts";
import type { Scenario } from "../fixtures/scenario-worker.ts";
import { recordingLogger, scenarioWorker, tempDir, waitForFile } from "../helpers.ts";
import { parseHead, RawExchange, serveForTest } from "./helpers.ts";

const troupe = { "troupe-dialect": "troupe" };

function requestIdOf(exchange: RawExchange): string {
  return parseHead(exchange.text).headers["x-request-id"] as string;
}

/** The header that proves a resume or a cancel comes from whoever started `exchange`. */
function ownerOf(exchange: RawExchange): Record<string, string> {
  return {
    "troupe-resume-token": parseHead(exchange.text).headers["troupe-resume-token"] as string,
  };
}

describe("troupe's dialect", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { retry: 250 });
  });
  afterAll(() => server.close());

  it("sends retry first, then queued, started, id'd results and done", async () => {
    const exchange = await RawExchange.post(server, "/stream", { op: "burst", count: 2 }, troupe);
    await exchange.ended;
    expect(exchange.body).toBe(
      "retry: 250\n\n" +
        'event: queued\ndata: {"position":0}\n\n' +
        "event: started\ndata: {}\n\n" +
        'event: result\nid: 1\ndata: {"i":0}\n\n' +
        'event: result\nid: 2\ndata: {"i":1}\n\n' +
        'event: result\nid: 3\ndata: {"i":2,"last":true}\n\n' +
        'event: done\nid: 4\ndata: {"count":2}\n\n',
    );
  });

  it("sends a non-fatal error event in place and goes on", async () => {
    const exchange = await RawExchange.post(server, "/stream", { op: "streamError" }, troupe);
    await exchange.ended;
    const events = exchange.events.filter((e) => e.id !== undefined);
    expect(events.map((e) => [e.id, e.event])).toEqual([
      ["1", "result"],
      ["2", "error"],
      ["3", "result"],
      ["4", "done"],
    ]);
    const error = JSON.parse(events[1]?.data ?? "");
    expect(error).toEqual({
      error: {
        name: "StreamedError",
        code: "WORKER_ERROR",
        message: "Rank 0: preview failed",
        rank: 0,
        requestId: requestIdOf(exchange),
      },
      fatal: false,
    });
  });

  it("ends a failed request with a fatal error event that has an id", async () => {
    const exchange = await RawExchange.post(
      server,
      "/stream",
      { op: "throw", rank: 0, message: "boom" },
      troupe,
    );
    await exchange.ended;
    const last = exchange.events.at(-1);
    expect(last?.event).toBe("error");
    expect(last?.id).toBe("1");
    expect(JSON.parse(last?.data ?? "")).toMatchObject({
      error: { code: "CALL_FAILED", rank: 0, requestId: requestIdOf(exchange) },
      fatal: true,
    });
  });

  it("tells a waiting request its queue position on entry and on every change", async () => {
    using dir = tempDir();
    const first = await RawExchange.post(
      server,
      "/stream",
      { op: "waitAbort", dir: dir.path },
      troupe,
    );
    await first.until((text) => text.includes("running"));
    const second = await RawExchange.post(server, "/stream", { op: "burst", count: 0 }, troupe);
    const third = await RawExchange.post(server, "/stream", { op: "burst", count: 0 }, troupe);
    await third.until((text) => text.includes('event: queued\ndata: {"position":1}'));
    await second.until((text) => text.includes('event: queued\ndata: {"position":0}'));
    const cancel = await fetch(`${server.url}/requests/${requestIdOf(first)}`, {
      method: "DELETE",
      headers: ownerOf(first),
    });
    expect(cancel.status).toBe(204);
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
    await second.ended;
    await third.ended;
    expect(third.events.map((e) => e.event)).toEqual([
      "queued",
      "queued",
      "started",
      "result",
      "done",
    ]);
    expect(third.events.slice(0, 2).map((e) => JSON.parse(e.data).position)).toEqual([1, 0]);
  });

  it("cancels on every rank on DELETE and ends the stream with a fatal ABORTED error", async () => {
    using dir = tempDir();
    const exchange = await RawExchange.post(
      server,
      "/stream",
      { op: "waitAbort", dir: dir.path },
      troupe,
    );
    await exchange.until((text) => text.includes("running"));
    const response = await fetch(`${server.url}/requests/${requestIdOf(exchange)}`, {
      method: "DELETE",
      headers: ownerOf(exchange),
    });
    expect(response.status).toBe(204);
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
    await exchange.ended;
    const last = exchange.events.at(-1);
    expect(last?.id).toBe("2");
    expect(JSON.parse(last?.data ?? "")).toMatchObject({ error: { code: "ABORTED" }, fatal: true });
  });

  it("fires the endpoint's ctx.signal on DELETE of a stream that is not a runner's", async () => {
    const app = server.app as ScenarioApp;
    const before = app.endpointAborts.length;
    const exchange = await RawExchange.post(server, "/waits", {}, troupe);
    await exchange.until((text) => text.includes("waiting"));
    const response = await fetch(`${server.url}/requests/${requestIdOf(exchange)}`, {
      method: "DELETE",
      headers: ownerOf(exchange),
    });
    expect(response.status).toBe(204);
    await app.abortsSeen(before + 1);
    await exchange.ended;
    expect(JSON.parse(exchange.events.at(-1)?.data ?? "")).toMatchObject({
      error: { code: "ABORTED" },
      fatal: true,
    });
  });

  it("answers DELETE of a request it never had with 404 REQUEST_NOT_FOUND", async () => {
    const response = await fetch(`${server.url}/requests/never-had`, { method: "DELETE" });
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe("REQUEST_NOT_FOUND");
  });

  it("resumes a dropped stream after Last-Event-ID with nothing lost or duplicated", async () => {
    using dir = tempDir();
    const first = await RawExchange.post(
      server,
      "/stream",
      { op: "waitAbort", dir: dir.path },
      troupe,
    );
    await first.untilEvents(3);
    const id = requestIdOf(first);
    first.socket.destroy();
    // It processed id 1: nothing to replay, the stream goes on live.
    const resumed = await RawExchange.open(server, "GET", `/stream?requestId=${id}`, {
      headers: { "troupe-dialect": "troupe", "last-event-id": "1", ...ownerOf(first) },
    });
    await resumed.until((text) => text.includes("event: started"));
    expect(resumed.events.filter((e) => e.id !== undefined)).toEqual([]);
    // And from the start, through the endpoint's own path.
    const again = await RawExchange.open(server, "GET", `/stream?requestId=${id}`, {
      headers: { "troupe-dialect": "troupe", "last-event-id": "0", ...ownerOf(first) },
    });
    await again.until((text) => text.includes("id: 1"));
    // The newer connection replaced the older one, which was told so before its clean end.
    await resumed.ended;
    expect(resumed.complete).toBe(true);
    expect(resumed.events.at(-1)).toMatchObject({ event: "error", id: undefined });
    expect(JSON.parse(resumed.events.at(-1)?.data ?? "")).toMatchObject({
      error: { code: "READER_REPLACED", requestId: id },
      fatal: false,
    });
    await fetch(`${server.url}/requests/${id}`, { method: "DELETE", headers: ownerOf(first) });
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
    await again.ended;
    expect(again.events.filter((e) => e.id !== undefined).map((e) => [e.id, e.event])).toEqual([
      ["1", "result"],
      ["2", "error"],
    ]);
    expect(again.body.startsWith("retry: 250\n\n")).toBe(true);
    expect(parseHead(again.text).headers["x-request-id"]).toBe(id);
  });

  it("replays a finished request within the resume window", async () => {
    const first = await RawExchange.post(server, "/stream", { op: "burst", count: 3 }, troupe);
    await first.ended;
    const resumed = await RawExchange.open(
      server,
      "GET",
      `/stream?requestId=${requestIdOf(first)}`,
      {
        headers: { "troupe-dialect": "troupe", "last-event-id": "2", ...ownerOf(first) },
      },
    );
    await resumed.ended;
    expect(resumed.events.map((e) => [e.id, e.event, e.data])).toEqual([
      ["3", "result", '{"i":2}'],
      ["4", "result", '{"i":3,"last":true}'],
      ["5", "done", '{"count":3}'],
    ]);
  });

  it("answers a resume for a request it never had with 404 REQUEST_NOT_FOUND", async () => {
    const response = await fetch(`${server.url}/stream?requestId=nope`, { headers: troupe });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      error: { code: "REQUEST_NOT_FOUND", requestId: expect.any(String) },
    });
  });

  it("re-frames a plain generator's items as results, then done with null", async () => {
    const exchange = await RawExchange.post(server, "/items", { count: 2 }, troupe);
    await exchange.ended;
    expect(exchange.body).toBe(
      "retry: 250\n\n" +
        'event: result\nid: 1\ndata: {"i":0}\n\n' +
        'event: result\nid: 2\ndata: {"i":1}\n\n' +
        "event: done\nid: 3\ndata: null\n\n",
    );
  });

  it("re-frames SSE text split inside a character as result events", async () => {
    const exchange = await RawExchange.post(server, "/text", { count: 2 }, troupe);
    await exchange.ended;
    expect(exchange.events.map((e) => [e.id, e.event, e.data])).toEqual([
      ["1", "result", '{"i":0,"s":"é"}'],
      ["2", "result", '{"i":1,"s":"é"}'],
      ["3", "done", "null"],
    ]);
  });
});

describe("troupe's dialect with a replay buffer of two events", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { replayLimit: 2 });
  });
  afterAll(() => server.close());

  it("answers REPLAY_UNAVAILABLE (status 200) when the events asked for fell out of the buffer", async () => {
    const first = await RawExchange.post(server, "/stream", { op: "burst", count: 5 }, troupe);
    await first.ended;
    const response = await fetch(`${server.url}/stream?requestId=${requestIdOf(first)}`, {
      headers: { ...troupe, "last-event-id": "1", ...ownerOf(first) },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^retry: \d+\n\nevent: error\ndata: /);
    expect(JSON.parse(text.split("data: ")[1] as string)).toMatchObject({
      error: { code: "REPLAY_UNAVAILABLE", requestId: requestIdOf(first) },
      fatal: true,
    });
  });
});

describe("troupe's dialect with no resume window", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { resumeWindow: 0 });
  });
  afterAll(() => server.close());

  it("cancels on every rank when the client does not come back within the resume window", async () => {
    using dir = tempDir();
    const exchange = await RawExchange.post(
      server,
      "/stream",
      { op: "waitAbort", dir: dir.path },
      troupe,
    );
    await exchange.until((text) => text.includes("running"));
    exchange.socket.destroy();
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
  });

  it("answers REPLAY_UNAVAILABLE, not 404, for a finished request that left the window", async () => {
    const first = await RawExchange.post(server, "/stream", { op: "burst", count: 0 }, troupe);
    await first.ended;
    const response = await fetch(`${server.url}/stream?requestId=${requestIdOf(first)}`, {
      headers: { ...troupe, "last-event-id": "0" },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('"code":"REPLAY_UNAVAILABLE"');
  });
});

describe("troupe's dialect with a runner that forwards every rank's results", () => {
  const Input = z.looseObject({ op: z.string() });
  class AllRanksApp extends App {
    runner!: DistributedRunner<ScenarioWorker>;
    override async setup() {
      this.runner = new DistributedRunner<ScenarioWorker>({
        worker: scenarioWorker,
        worldSize: 2,
        gpus: [],
        streamAllRanks: true,
        logger: recordingLogger(),
      });
      await this.runner.start();
    }
    @endpoint("/stream", { input: Input, streaming: true })
    async stream(input: z.infer<typeof Input>) {
      return new StreamingResponse(this.runner.stream(input as Scenario));
    }
  }

  it("tags each result with its rank", async () => {
    await using server = await serveForTest(AllRanksApp);
    const exchange = await RawExchange.post(server, "/stream", { op: "allRanks" }, troupe);
    await exchange.ended;
    const results = exchange.events
      .filter((e) => e.event === "result")
      .map((e) => JSON.parse(e.data));
    expect(results.sort((a, b) => a.rank - b.rank)).toEqual([
      { rank: 0, result: { from: 0 } },
      { rank: 1, result: { from: 1 } },
    ]);
    expect(exchange.events.at(-1)).toMatchObject({ event: "done", data: '{"rank":0}' });
  });
});
