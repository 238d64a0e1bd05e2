import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { SseConnection } from "../../src/app/sse-connection.ts";
import BackpressureApp from "../fixtures/app/backpressure-app.ts";
import { tempDir, waitForFile } from "../helpers.ts";
import { RawExchange, serveForTest } from "./helpers.ts";

describe("a client that stops reading", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(BackpressureApp);
  });
  afterAll(() => server.close());

  it("holds the worker back through the socket and the runner, then gets every event in order", async () => {
    using dir = tempDir();
    // 1500 results of 32 KiB: far more than the sockets' buffers and the runner's 16 results.
    const exchange = await RawExchange.post(server, "/stream", {
      op: "awaitBurst",
      count: 1500,
      pad: 32 * 1024,
      dir: dir.path,
    });
    exchange.socket.pause();
    // The server stops pulling events once the socket is full, until it drains...
    const waitsForDrain = new Promise<void>((resolve) => {
      const drained = SseConnection.prototype.drained;
      const spy = vi.spyOn(SseConnection.prototype, "drained").mockImplementation(function (
        this: SseConnection,
      ) {
        spy.mockRestore();
        resolve();
        return drained.call(this);
      });
    });
    await waitsForDrain;
    // ...so the runner stops reading, and the worker's addStreamingResult promise waits.
    await waitForFile(join(dir.path, "held"));
    exchange.socket.resume();
    await exchange.ended;
    const events = exchange.events.map(
      (e) => JSON.parse(e.data) as { i?: number; waited?: number },
    );
    expect(events).toHaveLength(1501);
    expect(events.slice(0, 1500).map((e) => e.i)).toEqual([...Array(1500).keys()]);
    expect(events[1500]?.waited).toBeGreaterThan(0);
  });
});
