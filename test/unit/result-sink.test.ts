import type { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Image } from "../../src/encoding/image.ts";
import {
  InvalidArgumentError,
  InvalidPayloadError,
  type SerializedError,
} from "../../src/errors.ts";
import { deferred } from "../../src/internal/deferred.ts";
import type { ImageEncoding } from "../../src/worker/encode-images.ts";
import { ResultSink } from "../../src/worker/result-sink.ts";
import type { ThrottleClock } from "../../src/worker/throttle.ts";
import { flushMicrotasks } from "./support/promise-state.ts";
import { clock, freeChannel, heldChannel, streamed } from "./support/result-frames.ts";

/** A throttle clock whose timers fire only when the test calls `fire()`. */
function manualTimers(now: () => number): ThrottleClock & { fire(): void } {
  const timers = new Map<number, () => void>();
  let next = 0;
  return {
    now,
    setTimeout(callback) {
      timers.set(++next, callback);
      return next;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    fire() {
      const due = [...timers.values()];
      timers.clear();
      for (const callback of due) callback();
    },
  };
}

/** An image encoder that finishes each encode when the test says so, in any order. */
function heldEncoder(): {
  encode: (value: unknown, encoding: ImageEncoding) => Promise<unknown>;
  finish(index: number, value?: unknown): void;
  fail(index: number, error: Error): void;
  readonly started: number;
} {
  const pending: { value: unknown; settle: ReturnType<typeof deferred<unknown>> }[] = [];
  return {
    encode(value) {
      const settle = deferred<unknown>();
      pending.push({ value, settle });
      return settle.promise;
    },
    finish(index, value) {
      const entry = pending[index] as (typeof pending)[number];
      entry.settle.resolve(value ?? { encoded: index });
    },
    fail(index, error) {
      (pending[index] as (typeof pending)[number]).settle.reject(error);
    },
    get started() {
      return pending.length;
    },
  };
}

const rawImage = (): Image =>
  Image.fromPixels(new Uint8Array(3), { width: 1, height: 1, channels: 3 });

const streamError = (message: string): SerializedError => ({ name: "Error", message });

function makeSink(
  channel: Writable,
  options: {
    now?: () => number;
    throttleClock?: ThrottleClock;
    encodeImages?: (value: unknown, encoding: ImageEncoding) => Promise<unknown>;
  } = {},
): ResultSink {
  const sink = new ResultSink({
    channel,
    rank: 0,
    highWaterMark: 1024,
    maxPendingBytes: 64 * 1024 * 1024,
    now: options.now ?? clock().now,
    ...(options.throttleClock === undefined ? {} : { throttleClock: options.throttleClock }),
    ...(options.encodeImages === undefined ? {} : { encodeImages: options.encodeImages }),
  });
  sink.begin(1);
  return sink;
}

describe("ResultSink", () => {
  describe("checking a result where the worker adds it", () => {
    it("throws InvalidPayloadError naming the path of a value that cannot be sent, and sends nothing", async () => {
      const { channel, chunks } = freeChannel();
      const sink = makeSink(channel);
      expect(() => sink.add({ step: 1, callback: () => 1 }, undefined)).toThrow(
        /`result\.callback`.*function/,
      );
      expect(() => sink.add({ step: 1, callback: () => 1 }, undefined)).toThrow(
        InvalidPayloadError,
      );
      await sink.finish();
      expect(chunks).toHaveLength(0);
    });

    it.each([
      [{ throttle: -1 }, /`throttle`.*non-negative.*-1/],
      [{ throttle: Number.NaN }, /`throttle`.*NaN/],
      [{ every: 0 }, /`every`.*positive integer.*0/],
      [{ every: 1.5 }, /`every`.*1\.5/],
      [{ throttle: 10, every: 2 }, /`throttle` or `every`, not both/],
    ])("throws InvalidArgumentError for the options %j", (options, message) => {
      const sink = makeSink(freeChannel().channel);
      expect(() => sink.add({ step: 1 }, options)).toThrow(InvalidArgumentError);
      expect(() => sink.add({ step: 1 }, options)).toThrow(message);
    });

    it("sends a value that is not plain data (bytes, a Map) after checking it", async () => {
      const { channel, chunks } = freeChannel();
      const sink = makeSink(channel);
      await sink.add({ bytes: new Uint8Array([1, 2]), map: new Map([["a", 1]]) }, undefined);
      await sink.finish();
      expect(streamed(chunks)).toEqual([{ bytes: new Uint8Array([1, 2]), map: { a: 1 } }]);
    });
  });

  describe("ordering behind results whose images are encoding", () => {
    it("queues later results and errors behind an encode, so the stream keeps the order they were added in", async () => {
      const { channel, chunks } = freeChannel();
      const encoder = heldEncoder();
      const sink = makeSink(channel, { encodeImages: encoder.encode });
      void sink.add({ preview: rawImage() }, undefined);
      void sink.add({ plain: 1 }, undefined);
      sink.addError(streamError("after the plain one"));
      void sink.add({ preview: rawImage() }, undefined);
      // Both encodes run at once; the second one finishes first.
      expect(encoder.started).toBe(2);
      encoder.finish(1, { second: true });
      await flushMicrotasks();
      expect(chunks).toHaveLength(0);
      encoder.finish(0, { first: true });
      await sink.finish();
      expect(streamed(chunks)).toEqual([
        { first: true },
        { plain: 1 },
        { streamError: "after the plain one" },
        { second: true },
      ]);
    });

    it("fails finish() with the error of a result whose encoding failed, after the results before it", async () => {
      const { channel, chunks } = freeChannel();
      const encoder = heldEncoder();
      const sink = makeSink(channel, { encodeImages: encoder.encode });
      void sink.add({ before: true }, undefined);
      const added = sink.add({ preview: rawImage() }, undefined);
      encoder.fail(0, new Error("encoder broke"));
      await expect(added).rejects.toThrow("encoder broke");
      await expect(sink.finish()).rejects.toThrow("encoder broke");
      expect(streamed(chunks)).toEqual([{ before: true }]);
    });

    it("drops a result whose images finish encoding after the call was cancelled", async () => {
      const { channel, chunks } = freeChannel();
      const encoder = heldEncoder();
      const sink = makeSink(channel, { encodeImages: encoder.encode });
      void sink.add({ preview: rawImage() }, undefined);
      sink.cancel();
      encoder.finish(0);
      await flushMicrotasks();
      await sink.add({ afterCancel: true }, undefined);
      sink.addError(streamError("after the cancel"));
      await sink.finish();
      expect(chunks).toHaveLength(0);
    });

    it("keeps a stale encode of the previous call out of the next one", async () => {
      const { channel, chunks } = freeChannel();
      const encoder = heldEncoder();
      const sink = makeSink(channel, { encodeImages: encoder.encode });
      void sink.add({ preview: rawImage() }, undefined);
      sink.end();
      sink.begin(2);
      encoder.fail(0, new Error("late failure of call 1"));
      encoder.finish(0);
      await flushMicrotasks();
      await sink.add({ call: 2 }, undefined);
      await expect(sink.finish()).resolves.toBeUndefined();
      expect(streamed(chunks)).toEqual([{ call: 2 }]);
    });
  });

  describe("throttle, every and latestWins", () => {
    it("sends the first throttled result at once, the newest of the interval when it ends, and the newest again at finish()", async () => {
      const time = clock();
      const timers = manualTimers(time.now);
      const { channel, chunks } = freeChannel();
      const sink = makeSink(channel, { now: time.now, throttleClock: timers });
      for (let step = 1; step <= 3; step++) void sink.add({ step }, { throttle: 100 });
      await flushMicrotasks();
      expect(streamed(chunks)).toEqual([{ step: 1 }]);
      time.set(100);
      timers.fire();
      await flushMicrotasks();
      expect(streamed(chunks)).toEqual([{ step: 1 }, { step: 3 }]);
      time.set(150);
      void sink.add({ step: 4 }, { throttle: 100 });
      void sink.add({ step: 5 }, { throttle: 100 });
      await sink.finish();
      expect(streamed(chunks)).toEqual([{ step: 1 }, { step: 3 }, { step: 5 }]);
    });

    it("sends every n-th result and the newest at finish() with `every`", async () => {
      const { channel, chunks } = freeChannel();
      const sink = makeSink(channel);
      for (let step = 0; step < 8; step++) void sink.add({ step }, { every: 3 });
      await sink.finish();
      expect(streamed(chunks)).toEqual([{ step: 0 }, { step: 3 }, { step: 6 }, { step: 7 }]);
    });

    it("drops held-back throttled results when the call is cancelled", async () => {
      const time = clock();
      const timers = manualTimers(time.now);
      const { channel, chunks } = freeChannel();
      const sink = makeSink(channel, { now: time.now, throttleClock: timers });
      void sink.add({ step: 1 }, { throttle: 100 });
      void sink.add({ step: 2 }, { throttle: 100 });
      sink.cancel();
      timers.fire();
      await sink.finish();
      expect(streamed(chunks)).toEqual([{ step: 1 }]);
    });

    it("lets a newer latest-wins result replace one the channel has not taken yet", async () => {
      const { channel, chunks, release } = heldChannel();
      const sink = makeSink(channel);
      void sink.add({ first: true }, undefined); // written; the channel now needs draining
      void sink.add({ preview: 1 }, { latestWins: "preview" });
      void sink.add({ kept: true }, undefined);
      void sink.add({ preview: 2 }, { latestWins: "preview" });
      const finished = sink.finish();
      release();
      await flushMicrotasks();
      release();
      await finished;
      expect(streamed(chunks)).toEqual([{ first: true }, { kept: true }, { preview: 2 }]);
    });
  });

  it("takes nothing after end(), and starts clean on begin()", async () => {
    const { channel, chunks } = freeChannel();
    const sink = makeSink(channel);
    sink.end();
    await sink.add({ dropped: true }, undefined);
    sink.addError(streamError("dropped"));
    sink.begin(2);
    await sink.add({ taken: true }, undefined);
    await sink.finish();
    expect(streamed(chunks)).toEqual([{ taken: true }]);
  });
});
