import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConnectionError,
  HttpError,
  ReaderReplacedError,
  ReplayUnavailableError,
  stream,
  UnexpectedResponseError,
} from "../../src/client/index.ts";
import { createStream } from "../../src/client/stream.ts";
import { collect } from "../helpers.ts";
import { ManualClock } from "./manual-clock.ts";
import { type Exchange, event, type SseServer, sseServer } from "./sse-server.ts";

let server: SseServer;
beforeEach(async () => {
  server = await sseServer();
});
afterEach(async () => {
  await server.close();
});

/** Writes `bytes`, then drops the connection mid-stream. */
async function dropAfter(exchange: Exchange, bytes: string): Promise<void> {
  await exchange.write(bytes);
  exchange.drop();
}

describe("resuming a dropped stream", () => {
  it("reconnects with Last-Event-ID and the resume token after the server's retry delay, without a duplicated or lost event", async () => {
    const clock = new ManualClock();
    const s = createStream<number, string>(server.url, { path: "/gen?mode=fast" }, { clock });
    const results = collect(s);
    const first = await server.next();
    await first.open("req-r", { "troupe-resume-token": "token-of-req-r" });
    await dropAfter(
      first,
      `retry: 2500\n\n${event("started", {})}${event("result", 1, 1)}${event("result", 2, 2)}event: result\nid: 3\ndata: 3`,
    );
    // The client waits the server's retry delay, and nothing else.
    await clock.armed(1);
    expect(clock.delays).toEqual([2500]);
    clock.advance(2500);
    const second = await server.next();
    expect(second.method).toBe("GET");
    const url = new URL(second.url, server.url);
    expect(url.pathname).toBe("/gen");
    expect(url.searchParams.get("mode")).toBe("fast");
    expect(url.searchParams.get("requestId")).toBe("req-r");
    expect(second.headers["last-event-id"]).toBe("2");
    expect(second.headers["troupe-dialect"]).toBe("troupe");
    expect(second.headers["troupe-resume-token"]).toBe("token-of-req-r");
    await second.open("req-r");
    // A server that replays one event too many: the client skips what it already has.
    await second.write(
      `retry: 2500\n\n${event("started", {})}${event("result", 2, 2)}${event("result", 3, 3)}${event("result", 4, 4)}${event("done", "end", 5)}`,
    );
    second.end();
    expect(await results).toEqual([1, 2, 3, 4]);
    expect(await s.done()).toBe("end");
  });

  it("resumes as often as the connection drops, each time from the last id received", async () => {
    const s = stream<number, string>(server.url, { reconnect: { attempts: 1, delay: 0 } });
    const results = collect(s);
    let exchange = await server.next();
    await exchange.open("req-m");
    for (let id = 1; id <= 3; id++) {
      await dropAfter(exchange, `retry: 0\n\n${event("result", id, id)}`);
      exchange = await server.next();
      expect(exchange.headers["last-event-id"]).toBe(String(id));
      await exchange.open("req-m");
    }
    await exchange.write(event("done", "end", 4));
    exchange.end();
    expect(await results).toEqual([1, 2, 3]);
    expect(await s.done()).toBe("end");
  });

  it("sends Last-Event-ID: 0 when the connection drops before the first numbered event", async () => {
    const s = stream(server.url, { reconnect: { delay: 0 } });
    const final = s.done();
    const first = await server.next();
    await first.open("req-z");
    await dropAfter(first, `retry: 0\n\n${event("queued", { position: 3 })}`);
    const second = await server.next();
    expect(second.headers["last-event-id"]).toBe("0");
    await second.open("req-z");
    await second.write(event("done", 1, 1));
    second.end();
    expect(await final).toBe(1);
  });

  it("fails with REPLAY_UNAVAILABLE when the server no longer has the missed events, and cancels the request", async () => {
    const s = stream(server.url, { reconnect: { delay: 0 } });
    const final = s.done();
    const first = await server.next();
    await first.open("req-gone");
    await dropAfter(first, `retry: 0\n\n${event("result", 1, 1)}`);
    const second = await server.next();
    await second.open("req-gone");
    await second.write(
      event("error", {
        error: {
          name: "TroupeError",
          code: "REPLAY_UNAVAILABLE",
          message: "events after 1 are gone",
          requestId: "req-gone",
        },
        fatal: true,
      }),
    );
    second.end();
    const error = await final.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayUnavailableError);
    expect(error).toMatchObject({ code: "REPLAY_UNAVAILABLE", requestId: "req-gone" });
    const cancel = await server.next();
    expect([cancel.method, cancel.url]).toEqual(["DELETE", "/requests/req-gone"]);
  });

  it("gives up with CONNECTION_FAILED after the configured attempts, naming the last failure", async () => {
    const s = stream(server.url, { reconnect: { attempts: 2, delay: 0 } });
    const final = s.done();
    const first = await server.next();
    await first.open("req-503");
    await dropAfter(first, `retry: 0\n\n${event("result", 1, 1)}`);
    for (let attempt = 0; attempt < 2; attempt++) {
      const retry = await server.next();
      expect(retry.method).toBe("GET");
      retry.json(503, {
        error: { code: "UNAVAILABLE", message: "shutting down", requestId: "req-503" },
      });
    }
    const error = await final.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", requestId: "req-503" });
    expect((error as ConnectionError).cause).toBeInstanceOf(HttpError);
    expect((error as Error).message).toMatch(/2 attempts/);
  });

  it("stops at a 404 REQUEST_NOT_FOUND answer to the resume", async () => {
    const s = stream(server.url, { reconnect: { delay: 0 } });
    const final = s.done();
    const first = await server.next();
    await first.open("req-404");
    await dropAfter(first, `retry: 0\n\n${event("result", 1, 1)}`);
    const second = await server.next();
    second.json(404, { error: { code: "REQUEST_NOT_FOUND", message: "no such request" } });
    await expect(final).rejects.toMatchObject({
      name: "HttpError",
      status: 404,
      code: "REQUEST_NOT_FOUND",
      requestId: "req-404",
    });
  });

  it("stops at a 403 FORBIDDEN answer to the resume, without retrying it", async () => {
    const s = stream(server.url, { reconnect: { attempts: 5, delay: 0 } });
    const final = s.done();
    const first = await server.next();
    await first.open("req-403", { "troupe-resume-token": "token-of-req-403" });
    await dropAfter(first, `retry: 0\n\n${event("result", 1, 1)}`);
    const second = await server.next();
    second.json(403, { error: { code: "FORBIDDEN", message: "someone else's" } });
    await expect(final).rejects.toMatchObject({
      name: "HttpError",
      status: 403,
      code: "FORBIDDEN",
      requestId: "req-403",
    });
    // The cancel that follows a failure carries the token; no second resume was tried.
    const cancel = await server.next();
    expect([cancel.method, cancel.url]).toEqual(["DELETE", "/requests/req-403"]);
    expect(cancel.headers["troupe-resume-token"]).toBe("token-of-req-403");
  });

  it("stops with READER_REPLACED when its owner resumed the stream elsewhere, neither resuming nor cancelling it", async () => {
    const s = stream(server.url, { reconnect: { attempts: 5, delay: 0 } });
    const final = s.done();
    const first = await server.next();
    await first.open("req-moved", { "troupe-resume-token": "token-of-req-moved" });
    await first.write(
      `retry: 0\n\n${event("result", 1, 1)}${event("error", {
        error: {
          name: "ReaderReplacedError",
          code: "READER_REPLACED",
          message: "resumed on another connection",
          requestId: "req-moved",
        },
        fatal: false,
      })}`,
    );
    first.end();
    const error = await final.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReaderReplacedError);
    expect(error).toMatchObject({ code: "READER_REPLACED", requestId: "req-moved", status: 200 });
    // The next request the server sees is the probe: no resume, no DELETE.
    const probe = fetch(`${server.url}/probe`);
    const next = await server.next();
    expect(next.url).toBe("/probe");
    next.json(200, {});
    await probe;
  });

  it("fails with CONNECTION_FAILED at once when reconnect is off", async () => {
    const s = stream(server.url, { reconnect: false });
    const final = s.done();
    const first = await server.next();
    await first.open("req-off");
    await dropAfter(first, `retry: 0\n\n${event("result", 1, 1)}`);
    await expect(final).rejects.toMatchObject({
      name: "ConnectionError",
      code: "CONNECTION_FAILED",
      requestId: "req-off",
    });
  });

  it("rejects a stream whose ids skip an event, since that event was lost", async () => {
    const s = stream(server.url);
    const final = s.done();
    const first = await server.next();
    await first.open("req-gap");
    await first.write(`retry: 0\n\n${event("result", 1, 1)}${event("result", 3, 3)}`);
    const error = await final.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ code: "PROTOCOL_ERROR", requestId: "req-gap" });
    first.end();
  });
});
