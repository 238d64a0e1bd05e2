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

describe("StreamSession (troupe's dialect)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("starts no resume wait when its connection closes after a DELETE cancelled it", async () => {
    const source = manualSource();
    const session = new StreamSession(source, {
      requestId: "r",
      dialect: "troupe",
      replayLimit: 16,
      resumeWindow: 60_000,
      slowReaderTimeout: 0,
      timers,
      owner: RequestOwner.issue(undefined).owner,
      hooks: { onEvent() {}, onEnd() {} },
    });
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
