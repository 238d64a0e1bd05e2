import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { type HeartbeatTimers, SseConnection } from "../../src/app/sse-connection.ts";
import { FakeSocket } from "./fake-socket.ts";

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
  const socket = new FakeSocket();
  const connection = new SseConnection(socket as unknown as Socket, "req-1", 15_000, timers);
  socket.writes = []; // the head
  return { socket, connection, timers };
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe("SseConnection", () => {
  it("writes the response head with the SSE headers and the request id", () => {
    const socket = new FakeSocket();
    new SseConnection(socket as unknown as Socket, "req-1", 0, manualTimers());
    expect(socket.writes).toEqual([
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n" +
        "X-Accel-Buffering: no\r\nConnection: close\r\nx-request-id: req-1\r\n\r\n",
    ]);
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
    socket.emit("end");
    expect(connection.closed.aborted).toBe(true);
    expect(timers.cleared).toBe(true);
    connection.write("data: late\n\n");
    expect(socket.writes).toEqual([]);
  });

  it("writes what is queued before ending", () => {
    const { socket, connection } = open();
    connection.write("data: 1\n\n");
    connection.end("event: error\ndata: {}\n\n");
    expect(socket.writes).toEqual(["data: 1\n\nevent: error\ndata: {}\n\n"]);
    expect(socket.ended).toBe(true);
    expect(connection.closed.aborted).toBe(true);
  });
});
