import type { ServerResponse } from "node:http";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RequestOwner } from "../../src/app/request-owner.ts";
import { SseConnection } from "../../src/app/sse-connection.ts";
import { StreamSession } from "../../src/app/stream-session.ts";
import type { SourceItem } from "../../src/app/stream-source.ts";
import { FakeResponse } from "./fake-socket.ts";

/** A source whose items the test hands over one at a time. */
function manualSource() {
  let pending: ((r: IteratorResult<SourceItem>) => void) | undefined;
  const cancels: Error[] = [];
  return {
    cancels,
    forwardsAllRanks: false,
    next: () =>
      new Promise<IteratorResult<SourceItem>>((resolve) => {
        pending = resolve;
      }),
    cancel(reason: Error) {
      cancels.push(reason);
    },
    /** Produces the fatal error item a cancelled source ends with. */
    endWithError() {
      pending?.({
        done: false,
        value: { type: "error", error: new Error("cancelled"), fatal: true },
      });
    },
  };
}

const timers = { setInterval: () => 0, clearInterval() {} };

function sessionOf(source: ReturnType<typeof manualSource>, dialect: "fal" | "troupe") {
  return new StreamSession(source, {
    requestId: "r",
    dialect,
    replayLimit: 16,
    resumeWindow: 60_000,
    slowReaderTimeout: 0,
    timers,
    owner: RequestOwner.issue(undefined).owner,
    hooks: { onEvent() {}, onEnd() {} },
  });
}

/** A connection whose client went away before its head was written: closed from the start. */
function closedConnection(): SseConnection {
  const socket = new FakeResponse();
  socket.destroy();
  const connection = new SseConnection(socket as unknown as ServerResponse, {}, 0, timers);
  expect(connection.closed.aborted).toBe(true);
  return connection;
}

describe("StreamSession given a connection already closed", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("cancels a fal-dialect request at once, as a disconnect after the attach does", () => {
    const source = manualSource();
    sessionOf(source, "fal").attach(closedConnection());
    expect(source.cancels.map((e) => e.message)).toEqual(["The client disconnected"]);
  });

  it("starts the resume wait of a troupe-dialect request, which cancels it when no one resumes", async () => {
    const source = manualSource();
    sessionOf(source, "troupe").attach(closedConnection());
    expect(source.cancels).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(source.cancels.map((e) => e.message)).toEqual([
      "The client did not resume the stream in time",
    ]);
  });
});

describe("StreamSession (troupe's dialect)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("starts no resume wait when its connection closes after a DELETE cancelled it", async () => {
    const source = manualSource();
    const session = sessionOf(source, "troupe");
    const socket = new FakeResponse();
    session.attach(new SseConnection(socket as unknown as ServerResponse, {}, 0, timers));
    const running = session.run();
    await vi.advanceTimersByTimeAsync(0);

    session.cancel(new DOMException("DELETE", "AbortError"));
    expect(source.cancels).toHaveLength(1);
    // The client's connection closes before the cancelled source has produced its last item.
    socket.destroy();
    expect(vi.getTimerCount()).toBe(0);

    source.endWithError();
    await running;
    expect(session.finished).toBe(true);
    expect(source.cancels).toHaveLength(1);
  });
});
