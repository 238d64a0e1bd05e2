import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ClientEvent,
  NonFatalStreamError,
  RequestFailedError,
  stream,
} from "../../src/client/index.ts";
import { collect } from "../helpers.ts";
import { event, type SseServer, sseServer } from "./sse-server.ts";

let server: SseServer;
beforeEach(async () => {
  server = await sseServer();
});
afterEach(async () => {
  await server.close();
});

describe("stream() in troupe's dialect", () => {
  it("posts the input as JSON with troupe-dialect: troupe, yields each result and resolves done() with the final one", async () => {
    const s = stream<{ step: number; progress: number }, { output: string }>(server.url, {
      input: { prompt: "A sunset", steps: 2 },
      path: "/stream",
    });
    const results = collect(s);
    const exchange = await server.next();
    expect(exchange.method).toBe("POST");
    expect(exchange.url).toBe("/stream");
    expect(exchange.headers["troupe-dialect"]).toBe("troupe");
    expect(exchange.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(exchange.body)).toEqual({ prompt: "A sunset", steps: 2 });
    await exchange.open("req-1");
    await exchange.write("retry: 1000\n\n");
    await exchange.write(event("queued", { position: 0 }));
    await exchange.write(event("started", {}));
    await exchange.write(event("result", { step: 0, progress: 0.5 }, 1));
    await exchange.write(event("result", { step: 1, progress: 1 }, 2));
    await exchange.write(event("done", { output: "done" }, 3));
    exchange.end();
    expect(await results).toEqual([
      { step: 0, progress: 0.5 },
      { step: 1, progress: 1 },
    ]);
    expect(await s.done()).toEqual({ output: "done" });
    expect(s.requestId).toBe("req-1");
    expect(s.dialect).toBe("troupe");
  });

  it("yields typed events from events(), the non-fatal errors in place", async () => {
    const s = stream(server.url, { input: {} });
    const events = collect(s.events());
    const exchange = await server.next();
    await exchange.open("req-2");
    await exchange.write(
      `retry: 500\n\n${event("queued", { position: 1 })}${event("queued", { position: 0 })}${event("started", {})}` +
        event("result", { step: 0 }, 1) +
        event(
          "error",
          {
            error: {
              name: "WorkerCallError",
              code: "CALL_FAILED",
              message: "a bad step",
              rank: 0,
              requestId: "req-2",
            },
            fatal: false,
          },
          2,
        ) +
        event("result", { step: 1 }, 3) +
        event("done", { output: "ok" }, 4),
    );
    exchange.end();
    const got = await events;
    expect(got.map((e) => e.type)).toEqual([
      "queued",
      "queued",
      "started",
      "result",
      "error",
      "result",
      "done",
    ]);
    expect(got[0]).toEqual({ type: "queued", position: 1 });
    expect(got[3]).toEqual({ type: "result", data: { step: 0 }, id: 1 });
    const error = got[4] as Extract<ClientEvent, { type: "error" }>;
    expect(error.fatal).toBe(false);
    expect(error.id).toBe(2);
    expect(error.error).toBeInstanceOf(NonFatalStreamError);
    expect(error.error).toMatchObject({
      code: "CALL_FAILED",
      message: "a bad step",
      rank: 0,
      requestId: "req-2",
      remoteName: "WorkerCallError",
    });
    expect(got[6]).toEqual({ type: "done", data: { output: "ok" }, id: 4 });
    expect(await s.done()).toEqual({ output: "ok" });
  });

  it("hands non-fatal errors to onError while the plain iteration goes on with the results", async () => {
    const errors: NonFatalStreamError[] = [];
    const s = stream(server.url, { onError: (error) => errors.push(error) });
    const results = collect(s);
    const exchange = await server.next();
    await exchange.open("req-3");
    await exchange.write(
      event("result", 1, 1) +
        event("error", { error: { code: "CALL_FAILED", message: "hiccup" }, fatal: false }, 2) +
        event("result", 2, 3) +
        event("done", 3, 4),
    );
    exchange.end();
    expect(await results).toEqual([1, 2]);
    expect(errors.map((e) => [e.code, e.message, e.requestId])).toEqual([
      ["CALL_FAILED", "hiccup", "req-3"],
    ]);
    expect(await s.done()).toBe(3);
  });

  it("rejects the iteration and done() with a typed error on a fatal error event", async () => {
    const s = stream(server.url);
    const results = collect(s);
    const exchange = await server.next();
    await exchange.open("req-4");
    await exchange.write(
      event("result", 1, 1) +
        event(
          "error",
          {
            error: {
              name: "WorkerExitedError",
              code: "WORKER_EXITED",
              message: "rank 1 died",
              rank: 1,
              requestId: "req-4",
            },
            fatal: true,
          },
          2,
        ),
    );
    await expect(results).rejects.toThrow(RequestFailedError);
    const error = await s.done().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestFailedError);
    expect(error).toMatchObject({
      code: "WORKER_EXITED",
      message: "rank 1 died",
      rank: 1,
      requestId: "req-4",
      status: 200,
    });
    exchange.end();
  });

  it("runs the request and drops the intermediate results when done() is called alone", async () => {
    const s = stream(server.url);
    const final = s.done();
    const exchange = await server.next();
    await exchange.open("req-5");
    await exchange.write(event("result", 1, 1) + event("done", "final", 2));
    exchange.end();
    expect(await final).toBe("final");
  });

  it("refuses a second consumer", async () => {
    const s = stream(server.url);
    s.events();
    expect(() => s[Symbol.asyncIterator]()).toThrow(/already read by events\(\)/);
    s.cancel();
    await expect(s.done()).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("stream() in the fal dialect", () => {
  it("yields every data event and resolves done() with the last one", async () => {
    const s = stream(server.url);
    const results = collect(s);
    const exchange = await server.next();
    await exchange.open();
    await exchange.write('data: {"step":0,"progress":0.5}\n\n');
    await exchange.write(': ping\n\ndata: {"step":1,"progress":1}\n\n');
    await exchange.write('data: {"output":"done"}\n\n');
    exchange.end();
    expect(await results).toEqual([
      { step: 0, progress: 0.5 },
      { step: 1, progress: 1 },
      { output: "done" },
    ]);
    expect(await s.done()).toEqual({ output: "done" });
    expect(s.dialect).toBe("fal");
  });

  it("turns fal's named fatal error event into a typed error", async () => {
    const s = stream(server.url);
    const final = s.done();
    const exchange = await server.next();
    await exchange.open();
    await exchange.write(
      'data: {"step":0}\n\nevent: error\ndata: {"error":{"code":"CALL_FAILED","message":"boom","rank":0},"fatal":true}\n\n',
    );
    exchange.end();
    await expect(final).rejects.toMatchObject({
      name: "RequestFailedError",
      code: "CALL_FAILED",
      message: "boom",
      rank: 0,
    });
  });

  it("treats a JSON answer to the POST as the final result of no events", async () => {
    const s = stream(server.url);
    const events = collect(s.events());
    const exchange = await server.next();
    exchange.json(200, { output: "plain" }, { "x-request-id": "req-json" });
    expect(await events).toEqual([{ type: "done", data: { output: "plain" }, id: undefined }]);
  });
});
