import { describe, expect, it } from "vitest";
import { serializeError } from "../../src/errors.ts";
import { type BufferedEvent, EventBuffer } from "../../src/runner/event-buffer.ts";
import { isSettled } from "./support/promise-state.ts";

function result(n: number, key: string | null = null, rank = 0): BufferedEvent {
  return { kind: "result", rank, bytes: Uint8Array.of(n), key };
}

/** The first byte of every result taken, in order; other events by kind. */
function takeAll(buffer: EventBuffer): (number | string)[] {
  const out: (number | string)[] = [];
  for (let event = buffer.take(); event !== undefined; event = buffer.take()) {
    out.push(event.kind === "result" ? (event.bytes[0] as number) : event.kind);
  }
  return out;
}

function recorder(highWaterMark: number): { buffer: EventBuffer; calls: boolean[] } {
  const calls: boolean[] = [];
  return { buffer: new EventBuffer(highWaterMark, (paused) => calls.push(paused)), calls };
}

describe("EventBuffer", () => {
  it("delivers every kind of event in the order it was pushed", () => {
    const { buffer } = recorder(100);
    const streamError = serializeError(new Error("minor"));
    const events: BufferedEvent[] = [
      { kind: "queued", position: 2 },
      { kind: "started" },
      result(1),
      { kind: "streamError", error: streamError },
      result(2, null, 1),
    ];
    for (const event of events) buffer.push(event);
    expect(buffer.size).toBe(5);
    const taken: BufferedEvent[] = [];
    for (let event = buffer.take(); event !== undefined; event = buffer.take()) taken.push(event);
    expect(taken).toEqual(events);
    expect(buffer.size).toBe(0);
    expect(buffer.take()).toBeUndefined();
  });

  it("records when the last event was pushed, when it is timed", () => {
    const buffer = new EventBuffer(10, () => {}, true);
    expect(buffer.lastPushAt).toBe(0);
    const before = performance.now();
    buffer.push(result(1));
    expect(buffer.lastPushAt).toBeGreaterThanOrEqual(before);
    expect(buffer.lastPushAt).toBeLessThanOrEqual(performance.now());
  });

  it("reads no clock when it is not timed (no streaming timeout to serve)", () => {
    const { buffer } = recorder(10);
    buffer.push(result(1));
    expect(buffer.lastPushAt).toBe(0);
  });

  describe("backpressure", () => {
    it("asks the producer to pause exactly once when the buffer reaches highWaterMark", () => {
      const { buffer, calls } = recorder(4);
      for (let i = 0; i < 3; i++) buffer.push(result(i));
      expect(calls).toEqual([]);
      buffer.push(result(3));
      expect(calls).toEqual([true]);
      for (let i = 4; i < 10; i++) buffer.push(result(i));
      expect(calls).toEqual([true]);
    });

    it("asks the producer to resume once the consumer has read down to half of highWaterMark", () => {
      const { buffer, calls } = recorder(4);
      for (let i = 0; i < 6; i++) buffer.push(result(i));
      buffer.take();
      buffer.take();
      buffer.take();
      expect(buffer.size).toBe(3);
      expect(calls).toEqual([true]);
      buffer.take();
      expect(buffer.size).toBe(2);
      expect(calls).toEqual([true, false]);
      takeAll(buffer);
      expect(calls).toEqual([true, false]);
    });

    it("rounds half of an odd highWaterMark down", () => {
      const { buffer, calls } = recorder(5);
      for (let i = 0; i < 5; i++) buffer.push(result(i));
      buffer.take();
      buffer.take();
      expect(buffer.size).toBe(3);
      expect(calls).toEqual([true]);
      buffer.take();
      expect(calls).toEqual([true, false]);
    });

    it("pauses again when the buffer fills up a second time", () => {
      const { buffer, calls } = recorder(2);
      buffer.push(result(1));
      buffer.push(result(2));
      buffer.take();
      buffer.push(result(3));
      expect(calls).toEqual([true, false, true]);
      expect(takeAll(buffer)).toEqual([2, 3]);
      expect(calls).toEqual([true, false, true, false]);
    });

    it("pauses at the first event and resumes when empty with a highWaterMark of 1", () => {
      const { buffer, calls } = recorder(1);
      buffer.push(result(1));
      expect(calls).toEqual([true]);
      buffer.take();
      expect(calls).toEqual([true, false]);
    });
  });

  describe("latest-wins keys", () => {
    it("replaces an unread result with the same key and keeps the others in order", () => {
      const { buffer } = recorder(100);
      buffer.push(result(1, "preview"));
      buffer.push(result(2));
      buffer.push(result(3, "other"));
      buffer.push(result(4, "preview"));
      buffer.push(result(5));
      expect(buffer.size).toBe(4);
      expect(takeAll(buffer)).toEqual([2, 3, 4, 5]);
    });

    it("keeps only the last of many results with one key", () => {
      const { buffer } = recorder(100);
      for (let i = 0; i < 50; i++) buffer.push(result(i, "k"));
      expect(buffer.size).toBe(1);
      expect(takeAll(buffer)).toEqual([49]);
    });

    it("never pauses the producer for results that replace each other", () => {
      const { buffer, calls } = recorder(3);
      for (let i = 0; i < 10; i++) buffer.push(result(i, "k"));
      expect(calls).toEqual([]);
    });

    it("delivers a keyed result again when one with the same key was already consumed", () => {
      const { buffer } = recorder(100);
      buffer.push(result(1, "k"));
      buffer.push(result(2));
      expect(takeAll(buffer)).toEqual([1, 2]);
      buffer.push(result(3, "k"));
      buffer.push(result(4));
      expect(takeAll(buffer)).toEqual([3, 4]);
    });

    it("does not drop an unrelated event when a key consumed earlier is added while others wait", () => {
      const { buffer } = recorder(100);
      buffer.push(result(1, "k"));
      buffer.push(result(2));
      expect(buffer.take()).toMatchObject({ kind: "result", key: "k" });
      buffer.push(result(3, "k"));
      buffer.push(result(4, "k"));
      expect(takeAll(buffer)).toEqual([2, 4]);
    });

    it("keeps replacing by key correctly after a long-running buffer compacts itself", () => {
      const { buffer } = recorder(1_000_000);
      for (let i = 0; i < 6000; i++) buffer.push(result(i % 256, i === 5000 ? "k" : null));
      for (let i = 0; i < 4100; i++) buffer.take();
      buffer.push(result(77, "k"));
      const expected: number[] = [];
      for (let i = 4100; i < 6000; i++) if (i !== 5000) expected.push(i % 256);
      expected.push(77);
      expect(buffer.size).toBe(expected.length);
      expect(takeAll(buffer)).toEqual(expected);
    });
  });

  describe("finish and fail", () => {
    it("gives the consumer every buffered event before the outcome of finish()", () => {
      const { buffer } = recorder(100);
      buffer.push(result(1));
      buffer.push(result(2));
      const output = Uint8Array.of(9);
      buffer.finish({ ok: true, output });
      expect(buffer.outcome).toEqual({ ok: true, output });
      expect(takeAll(buffer)).toEqual([1, 2]);
    });

    it("ignores events pushed after the outcome is known", () => {
      const { buffer } = recorder(100);
      buffer.finish({ ok: true, output: Uint8Array.of() });
      buffer.push(result(1));
      expect(buffer.size).toBe(0);
      expect(buffer.take()).toBeUndefined();
    });

    it("keeps the first outcome when finish() or fail() is called again", () => {
      const { buffer } = recorder(100);
      const first = new Error("first");
      buffer.fail(first);
      buffer.finish({ ok: true, output: Uint8Array.of() });
      buffer.fail(new Error("second"));
      expect(buffer.outcome).toEqual({ ok: false, error: first });
    });

    it("does not drop the buffered events when fail() comes after finish()", () => {
      const { buffer } = recorder(100);
      buffer.push(result(1));
      buffer.finish({ ok: true, output: Uint8Array.of() });
      buffer.fail(new Error("late"));
      expect(buffer.outcome?.ok).toBe(true);
      expect(takeAll(buffer)).toEqual([1]);
    });

    it("drops buffered events on fail() so the error is what the consumer reads next", () => {
      const { buffer } = recorder(100);
      buffer.push(result(1));
      buffer.push(result(2, "k"));
      const error = new Error("rank died");
      buffer.fail(error);
      expect(buffer.size).toBe(0);
      expect(buffer.take()).toBeUndefined();
      expect(buffer.outcome).toEqual({ ok: false, error });
    });

    it("releases backpressure when fail() drops the events", () => {
      const { buffer, calls } = recorder(2);
      buffer.push(result(1));
      buffer.push(result(2));
      expect(calls).toEqual([true]);
      buffer.fail(new Error("x"));
      expect(calls).toEqual([true, false]);
    });

    it("does not call onPressure on fail() when the producer was not paused", () => {
      const { buffer, calls } = recorder(5);
      buffer.push(result(1));
      buffer.fail(new Error("x"));
      expect(calls).toEqual([]);
    });
  });

  describe("wait", () => {
    it("stays pending while nothing is buffered, and resolves when an event is pushed", async () => {
      const { buffer } = recorder(100);
      const waiting = buffer.wait();
      expect(await isSettled(waiting)).toBe(false);
      buffer.push(result(1));
      expect(await isSettled(waiting)).toBe(true);
      expect(takeAll(buffer)).toEqual([1]);
    });

    it("resolves every waiter when the request finishes", async () => {
      const { buffer } = recorder(100);
      const first = buffer.wait();
      const second = buffer.wait();
      expect(await isSettled(first)).toBe(false);
      buffer.finish({ ok: true, output: Uint8Array.of() });
      expect(await isSettled(first)).toBe(true);
      expect(await isSettled(second)).toBe(true);
    });

    it("resolves when the request fails", async () => {
      const { buffer } = recorder(100);
      const waiting = buffer.wait();
      buffer.fail(new Error("x"));
      expect(await isSettled(waiting)).toBe(true);
    });

    it("resolves when the consumer closes the buffer", async () => {
      const { buffer } = recorder(100);
      const waiting = buffer.wait();
      buffer.close();
      expect(await isSettled(waiting)).toBe(true);
    });

    it("resolves at once when an event, an outcome or a close is already there", async () => {
      const withEvent = recorder(100).buffer;
      withEvent.push({ kind: "started" });
      expect(await isSettled(withEvent.wait())).toBe(true);

      const finished = recorder(100).buffer;
      finished.finish({ ok: true, output: Uint8Array.of() });
      expect(await isSettled(finished.wait())).toBe(true);

      const closed = recorder(100).buffer;
      closed.close();
      expect(await isSettled(closed.wait())).toBe(true);
    });

    it("gives a fresh pending promise after the previous wait was answered and drained", async () => {
      const { buffer } = recorder(100);
      const first = buffer.wait();
      buffer.push(result(1));
      await first;
      buffer.take();
      const second = buffer.wait();
      expect(await isSettled(second)).toBe(false);
      buffer.push(result(2));
      expect(await isSettled(second)).toBe(true);
    });
  });

  describe("detach and close", () => {
    it("stops telling the producer to resume after detach()", () => {
      const { buffer, calls } = recorder(2);
      buffer.push(result(1));
      buffer.push(result(2));
      buffer.detach();
      takeAll(buffer);
      expect(calls).toEqual([true]);
    });

    it("stops telling the producer to pause after detach()", () => {
      const { buffer, calls } = recorder(2);
      buffer.detach();
      for (let i = 0; i < 5; i++) buffer.push(result(i));
      buffer.fail(new Error("x"));
      expect(calls).toEqual([]);
    });

    it("keeps delivering buffered events in order after detach()", () => {
      const { buffer } = recorder(2);
      buffer.push(result(1));
      buffer.detach();
      buffer.push(result(2));
      expect(takeAll(buffer)).toEqual([1, 2]);
    });

    it("drops every event, releases backpressure and ignores later pushes once closed", () => {
      const { buffer, calls } = recorder(2);
      buffer.push(result(1));
      buffer.push(result(2, "k"));
      buffer.close();
      expect(calls).toEqual([true, false]);
      expect(buffer.size).toBe(0);
      expect(buffer.take()).toBeUndefined();
      buffer.push(result(3));
      buffer.push(result(4, "k"));
      expect(buffer.size).toBe(0);
      expect(buffer.take()).toBeUndefined();
      expect(calls).toEqual([true, false]);
    });
  });
});
