import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConnectionError,
  HttpError,
  IdleTimeoutError,
  isAbortError,
  run,
  stream,
} from "../../src/client/index.ts";
import { createStream } from "../../src/client/stream.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { collect } from "../helpers.ts";
import { ManualClock } from "./manual-clock.ts";
import { event, type SseServer, sseServer } from "./sse-server.ts";

let server: SseServer;
beforeEach(async () => {
  server = await sseServer();
});
afterEach(async () => {
  await server.close();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("cancelling a stream", () => {
  it("rejects the iteration and done() with an AbortError and sends DELETE /requests/<id> with the resume token when the signal aborts", async () => {
    const controller = new AbortController();
    const s = stream(`${server.url}/app/`, { signal: controller.signal });
    const iterator = s[Symbol.asyncIterator]();
    const first = iterator.next();
    const exchange = await server.next();
    expect(exchange.url).toBe("/app/stream");
    await exchange.open("req-abort", { "troupe-resume-token": "token-of-req-abort" });
    await exchange.write(`retry: 0\n\n${event("result", 1, 1)}`);
    expect(await first).toEqual({ done: false, value: 1 });
    const second = iterator.next();
    controller.abort();
    const error = await second.catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(isAbortError(await s.done().catch((e: unknown) => e))).toBe(true);
    const cancel = await server.next();
    expect([cancel.method, cancel.url]).toEqual(["DELETE", "/app/requests/req-abort"]);
    expect(cancel.headers["troupe-dialect"]).toBe("troupe");
    expect(cancel.headers["troupe-resume-token"]).toBe("token-of-req-abort");
    exchange.end();
  });

  it("yields nothing more after an abort, even events that arrived in the same chunk", async () => {
    const controller = new AbortController();
    const s = stream(server.url, { signal: controller.signal });
    const iterator = s[Symbol.asyncIterator]();
    const first = iterator.next();
    const exchange = await server.next();
    await exchange.open("req-buffered");
    await exchange.write(
      `retry: 0\n\n${event("result", 1, 1)}${event("result", 2, 2)}${event("result", 3, 3)}`,
    );
    expect(await first).toEqual({ done: false, value: 1 });
    controller.abort();
    expect(isAbortError(await iterator.next().catch((e: unknown) => e))).toBe(true);
    exchange.end();
  });

  it("rejects done() at once on an abort, while the loop body is still busy with an event", async () => {
    const controller = new AbortController();
    const s = stream(server.url, { signal: controller.signal });
    const busy = deferred();
    const seen = deferred<unknown>();
    const loop = (async () => {
      for await (const result of s) {
        seen.resolve(result);
        await busy.promise;
      }
    })();
    const exchange = await server.next();
    await exchange.open("req-busy");
    await exchange.write(`retry: 0\n\n${event("result", 1, 1)}`);
    expect(await seen.promise).toBe(1);
    controller.abort();
    expect(isAbortError(await s.done().catch((e: unknown) => e))).toBe(true);
    busy.resolve();
    expect(isAbortError(await loop.catch((e: unknown) => e))).toBe(true);
    exchange.end();
  });

  it("sends DELETE when the consumer leaves the loop early, and done() rejects with an AbortError", async () => {
    const s = stream(server.url);
    const loop = (async () => {
      for await (const result of s) if (result === 1) break;
    })();
    const exchange = await server.next();
    await exchange.open("req-break");
    await exchange.write(`retry: 0\n\n${event("result", 1, 1)}`);
    await loop;
    const cancel = await server.next();
    expect([cancel.method, cancel.url]).toEqual(["DELETE", "/requests/req-break"]);
    expect(isAbortError(await s.done().catch((e: unknown) => e))).toBe(true);
    exchange.end();
  });

  it("cancels by closing the POST's connection when the signal aborts before the server has answered", async () => {
    const controller = new AbortController();
    const s = stream(server.url, { signal: controller.signal });
    const final = s.done();
    const exchange = await server.next();
    // The server chooses the id; the client proposes none.
    expect(exchange.headers["x-request-id"]).toBeUndefined();
    const closed = new Promise<void>((resolve) => exchange.res.once("close", () => resolve()));
    controller.abort();
    expect(isAbortError(await final.catch((e: unknown) => e))).toBe(true);
    // The connection closing is the cancel (the server aborts ctx.signal); no DELETE follows,
    // since the client knows no id, and holds no token, to send one with.
    await closed;
    const probe = fetch(`${server.url}/probe`);
    const next = await server.next();
    expect(next.url).toBe("/probe");
    next.json(200, {});
    await probe;
  });

  it("sends nothing when the signal was aborted before the stream was used", async () => {
    const s = stream(server.url, { signal: AbortSignal.abort() });
    expect(isAbortError(await s.done().catch((e: unknown) => e))).toBe(true);
  });

  it("sends no DELETE after the request has ended", async () => {
    const s = stream(server.url);
    const final = s.done();
    const exchange = await server.next();
    await exchange.open("req-ok");
    await exchange.write(event("done", "ok", 1));
    exchange.end();
    expect(await final).toBe("ok");
    s.cancel();
    // The next request the server sees is the probe, not a DELETE.
    const probe = fetch(`${server.url}/probe`);
    const next = await server.next();
    expect(next.url).toBe("/probe");
    next.json(200, {});
    await probe;
  });
});

describe("the idle timeout", () => {
  it("fails with STREAM_IDLE once no byte has arrived for `timeout` ms, and cancels the request", async () => {
    const clock = new ManualClock();
    const s = createStream(server.url, { timeout: 5000 }, { clock });
    const results = collect(s);
    const exchange = await server.next();
    await exchange.open("req-idle");
    await exchange.write(`retry: 0\n\n${event("result", 1, 1)}`);
    await clock.armed(3); // headers, first read, then waiting after the first event
    clock.advance(5000);
    const error = await results.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdleTimeoutError);
    expect(error).toMatchObject({ code: "STREAM_IDLE", requestId: "req-idle" });
    await expect(s.done()).rejects.toBeInstanceOf(IdleTimeoutError);
    const cancel = await server.next();
    expect([cancel.method, cancel.url]).toEqual(["DELETE", "/requests/req-idle"]);
    exchange.end();
  });

  it("is reset by heartbeats: a stream that only pings stays open", async () => {
    const clock = new ManualClock();
    const s = createStream(server.url, { timeout: 5000 }, { clock });
    const final = s.done();
    const exchange = await server.next();
    await exchange.open("req-ping");
    await clock.armed(2);
    for (let ping = 0; ping < 3; ping++) {
      clock.advance(4999);
      const before = clock.count;
      await exchange.write(": ping\n\n");
      await clock.armed(before + 1);
    }
    clock.advance(4999);
    await exchange.write(event("done", "still here", 1));
    exchange.end();
    expect(await final).toBe("still here");
  });

  it("covers the wait for the response headers too", async () => {
    const clock = new ManualClock();
    const s = createStream(server.url, { timeout: 1000 }, { clock });
    const final = s.done();
    const exchange = await server.next();
    await clock.armed(1);
    clock.advance(1000);
    await expect(final).rejects.toMatchObject({ code: "STREAM_IDLE" });
    exchange.end();
  });
});

describe("HTTP errors", () => {
  it("rejects with the status, code, request id and issues of a 422 answer", async () => {
    const s = stream(server.url, { input: { steps: "many" } });
    const final = s.done();
    const exchange = await server.next();
    exchange.json(
      422,
      {
        error: {
          code: "VALIDATION_FAILED",
          message: "steps: Expected number, received string",
          requestId: "req-422",
          issues: [{ path: "steps", message: "Expected number, received string" }],
        },
      },
      { "x-request-id": "req-422" },
    );
    const error = await final.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({
      status: 422,
      code: "VALIDATION_FAILED",
      requestId: "req-422",
      issues: [{ path: "steps", message: "Expected number, received string" }],
    });
    expect((error as Error).message).toBe("HTTP 422: steps: Expected number, received string");
  });

  it("rejects with HTTP_ERROR and the status when a 5xx body is not the protocol's JSON", async () => {
    const final = stream(server.url).done();
    const exchange = await server.next();
    exchange.res.writeHead(502, { "content-type": "text/html" });
    exchange.res.end("<h1>Bad gateway</h1>");
    await expect(final).rejects.toMatchObject({
      name: "HttpError",
      status: 502,
      code: "HTTP_ERROR",
      message: "HTTP 502: <h1>Bad gateway</h1>",
    });
  });

  it("rejects with CONNECTION_FAILED when nothing listens", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const error = await stream(url)
      .done()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED" });
    await expect(run(url)).rejects.toMatchObject({ code: "CONNECTION_FAILED" });
  });

  it("rejects bad arguments at once, naming the value", () => {
    expect(() => stream("not a url")).toThrow(
      'Expected `url` to be an absolute URL, got "not a url"',
    );
    expect(() => stream(server.url, { timeout: 0 })).toThrow(
      "Expected `timeout` to be a positive number of ms, got 0",
    );
    expect(() => stream(server.url, { reconnect: { attempts: -1 } })).toThrow(/attempts/);
    expect(() => stream(server.url, { input: { n: 1n } })).toThrow(/JSON-serializable/);
  });
});

describe("run()", () => {
  it("posts the input and resolves with the JSON result", async () => {
    const result = run<{ output: string }>(server.url, { input: { prompt: "A sunset" } });
    const exchange = await server.next();
    expect([exchange.method, exchange.url]).toEqual(["POST", "/"]);
    expect(JSON.parse(exchange.body)).toEqual({ prompt: "A sunset" });
    exchange.json(200, { output: "done" });
    expect(await result).toEqual({ output: "done" });
  });

  it("rejects with a typed error for a non-2xx answer", async () => {
    const result = run(server.url, { path: "/generate" });
    const exchange = await server.next();
    expect(exchange.url).toBe("/generate");
    exchange.json(
      503,
      { error: { code: "UNAVAILABLE", message: "runner not ready", requestId: "req-run" } },
      { "x-request-id": "req-run" },
    );
    await expect(result).rejects.toMatchObject({
      name: "HttpError",
      status: 503,
      code: "UNAVAILABLE",
      requestId: "req-run",
    });
  });

  it("reads a streaming endpoint's events and resolves with the final result", async () => {
    const result = run(server.url, { path: "/stream" });
    const exchange = await server.next();
    await exchange.open("req-sse");
    await exchange.write(`retry: 0\n\n${event("result", 1, 1)}${event("done", { output: 2 }, 2)}`);
    exchange.end();
    expect(await result).toEqual({ output: 2 });
  });

  it("rejects with an AbortError when the signal aborts", async () => {
    const controller = new AbortController();
    const result = run(server.url, { signal: controller.signal });
    const exchange = await server.next();
    controller.abort();
    expect(isAbortError(await result.catch((e: unknown) => e))).toBe(true);
    exchange.end();
  });
});
