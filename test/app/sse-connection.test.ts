import type { ServerResponse } from "node:http";
import { describe, expect, it, vi } from "vitest";
import { type HeartbeatTimers, SseConnection } from "../../src/app/sse-connection.ts";
import { FakeResponse } from "./fake-socket.ts";

function manualTimers(): HeartbeatTimers & { tick(): void; cleared: boolean } {
  let callback: (() => void) | undefined;
  const timers = {
    cleared: false,
    setInterval: (cb: () => void) => {
      callback = cb;
      return 1;
    },
    clearInterval: () => {
      timers.cleared = true;
    },
    tick: () => callback?.(),
  };
  return timers;
}

function open(timers = manualTimers()) {
  const socket = new FakeResponse();
  const connection = new SseConnection(socket as unknown as ServerResponse, {}, 15_000, timers);
  return { socket, connection, timers };
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe("SseConnection", () => {
  it("writes the head through the response with the reply's headers and the SSE ones, at once", () => {
    const response = new FakeResponse();
    const headers = { "x-request-id": "req-1", "x-fal-request-id": "req-1", gone: undefined };
    new SseConnection(response as unknown as ServerResponse, headers, 0, manualTimers());
    expect(response.head).toEqual({
      status: 200,
      headers: {
        "x-request-id": "req-1",
        "x-fal-request-id": "req-1",
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
    expect(response.flushed).toBe(true);
    expect(response.writes).toEqual([]);
  });

  it("coalesces the events queued in one turn into one socket write", async () => {
    const { socket, connection } = open();
    connection.write("data: 1\n\n");
    connection.write(new TextEncoder().encode("data: 2\n\n"));
    connection.write("data: 3\n\n");
    expect(socket.writes).toEqual([]);
    await nextTick();
    expect(socket.writes).toEqual(["data: 1\n\ndata: 2\n\ndata: 3\n\n"]);
    connection.write("data: 4\n\n");
    await nextTick();
    expect(socket.writes).toEqual(["data: 1\n\ndata: 2\n\ndata: 3\n\n", "data: 4\n\n"]);
  });

  it("pings on a tick only when nothing was written since the previous tick", async () => {
    const { socket, connection, timers } = open();
    connection.write("data: 1\n\n");
    timers.tick();
    await nextTick();
    expect(socket.writes).toEqual(["data: 1\n\n"]);
    timers.tick();
    await nextTick();
    expect(socket.writes).toEqual(["data: 1\n\n", ": ping\n\n"]);
  });

  it("reports backpressure until the socket drains", async () => {
    const { socket, connection } = open();
    socket.writableNeedDrain = true;
    expect(connection.blocked).toBe(true);
    let drained = false;
    const waiting = connection.drained().then(() => {
      drained = true;
    });
    await nextTick();
    expect(drained).toBe(false);
    socket.writableNeedDrain = false;
    socket.emit("drain");
    await waiting;
    expect(connection.blocked).toBe(false);
  });

  it("aborts `closed` and stops its heartbeat when the client goes away", () => {
    const { socket, connection, timers } = open();
    socket.emit("close");
    expect(connection.closed.aborted).toBe(true);
    expect(timers.cleared).toBe(true);
    connection.write("data: late\n\n");
    expect(socket.writes).toEqual([]);
  });

  it("writes what is queued before ending the response cleanly", () => {
    const { socket, connection } = open();
    connection.write("data: 1\n\n");
    connection.write("data: 2\n\n");
    connection.end();
    expect(socket.writes).toEqual(["data: 1\n\ndata: 2\n\n"]);
    expect(socket.ended).toBe(true);
    expect(socket.socket.ended).toBe(false);
    expect(connection.closed.aborted).toBe(true);
  });

  it("aborts by ending the socket after what is queued, never with the response's own end", () => {
    vi.useFakeTimers();
    try {
      const { socket, connection } = open();
      connection.write("event: error\ndata: {}\n\n");
      connection.abort();
      expect(socket.writes).toEqual(["event: error\ndata: {}\n\n"]);
      // The socket ends only once the response has handed the last bytes on.
      expect(socket.socket.ended).toBe(false);
      socket.flushWrites();
      expect(socket.ended).toBe(false);
      expect(socket.socket.ended).toBe(true);
      expect(connection.closed.aborted).toBe(true);
      // A client that never closes its side is cut off after a grace period.
      expect(socket.socket.destroyed).toBe(false);
      vi.advanceTimersByTime(5000);
      expect(socket.socket.destroyed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("ends a replaced reader cleanly after its last event, and drops it if the bytes do not leave", async () => {
    vi.useFakeTimers();
    try {
      const { socket, connection } = open();
      connection.endWith("event: error\ndata: {}\n\n");
      expect(socket.writes).toEqual(["event: error\ndata: {}\n\n"]);
      expect(socket.ended).toBe(true);
      expect(connection.closed.aborted).toBe(true);
      // The bytes never left (a half-open connection): after the grace period it is destroyed.
      expect(socket.destroyed).toBe(false);
      vi.advanceTimersByTime(5000);
      expect(socket.destroyed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
