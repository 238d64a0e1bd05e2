import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RequestTimeoutError, StreamIdleError } from "../../src/index.ts";
import { scenarioRunner, tempDir } from "../helpers.ts";

describe("the request queue", () => {
  const runner = scenarioRunner();
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("runs calls made while another runs one at a time, in FIFO order", async () => {
    using dir = tempDir();
    const tags = ["a", "b", "c", "d", "e"];
    const results = await Promise.all(
      tags.map((tag) => runner.invoke({ op: "record", dir: dir.path, tag })),
    );
    expect(results).toEqual(tags.map((tag) => ({ tag })));
    for (const rank of [0, 1]) {
      expect(readFileSync(join(dir.path, `calls-${rank}`), "utf8")).toBe("a\nb\nc\nd\ne\n");
    }
  });

  it("takes a waiting call whose signal aborts out of the queue without running it", async () => {
    using dir = tempDir();
    const blocker = runner.stream({ op: "waitAbort" });
    const first = blocker[Symbol.asyncIterator]();
    await first.next(); // the blocker runs on every rank
    const controller = new AbortController();
    const waiting = runner.invoke(
      { op: "record", dir: dir.path, tag: "cancelled" },
      { signal: controller.signal },
    );
    const after = runner.invoke({ op: "record", dir: dir.path, tag: "after" });
    expect(runner.queueLength).toBe(2);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    expect(runner.queueLength).toBe(1);
    await first.return?.();
    await expect(after).resolves.toEqual({ tag: "after" });
    expect(readFileSync(join(dir.path, "calls-0"), "utf8")).toBe("after\n");
  });

  it("takes a waiting call that times out out of the queue without running it", async () => {
    using dir = tempDir();
    const blocker = runner.stream({ op: "waitAbort" });
    const first = blocker[Symbol.asyncIterator]();
    await first.next();
    const waiting = runner.invoke({ op: "record", dir: dir.path, tag: "late" }, { timeout: 20 });
    await expect(waiting).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(waiting).rejects.toMatchObject({ code: "REQUEST_TIMEOUT" });
    await first.return?.();
    await runner.invoke({ op: "record", dir: dir.path, tag: "next" });
    expect(readFileSync(join(dir.path, "calls-1"), "utf8")).toBe("next\n");
  });

  it("reports a waiting stream's queue position as it moves up", async () => {
    const blocker = runner.stream({ op: "waitAbort" });
    const first = blocker[Symbol.asyncIterator]();
    await first.next();
    const second = runner.stream({ op: "echo", value: 2 });
    const third = runner.stream({ op: "echo", value: 3 });
    const secondEvents = second.events()[Symbol.asyncIterator]();
    const thirdEvents = third.events()[Symbol.asyncIterator]();
    await expect(secondEvents.next()).resolves.toEqual({
      done: false,
      value: { type: "queued", position: 0 },
    });
    await expect(thirdEvents.next()).resolves.toEqual({
      done: false,
      value: { type: "queued", position: 1 },
    });
    await first.return?.();
    await expect(secondEvents.next()).resolves.toEqual({ done: false, value: { type: "started" } });
    await expect(thirdEvents.next()).resolves.toEqual({
      done: false,
      value: { type: "queued", position: 0 },
    });
    await expect(secondEvents.next()).resolves.toEqual({
      done: false,
      value: { type: "done", data: 2 },
    });
    await expect(second.done()).resolves.toBe(2);
    await expect(thirdEvents.next()).resolves.toEqual({ done: false, value: { type: "started" } });
    await expect(third.done()).resolves.toBe(3);
  });
});

describe("cancellation", () => {
  const runner = scenarioRunner({ cancelGracePeriod: 2000 });
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  async function runningStream(dir: string, signal?: AbortSignal) {
    const stream = runner.stream({ op: "waitAbort", dir }, signal === undefined ? {} : { signal });
    const iterator = stream[Symbol.asyncIterator]();
    await expect(iterator.next()).resolves.toEqual({ done: false, value: { running: true } });
    return { stream, iterator };
  }

  function abortedOnEveryRank(dir: string): string[] {
    return [0, 1].map((rank) => readFileSync(join(dir, `aborted-${rank}`), "utf8"));
  }

  it("fires ctx.signal on every rank when the signal aborts, and starts the next request only after", async () => {
    using dir = tempDir();
    const controller = new AbortController();
    const { iterator, stream } = await runningStream(dir.path, controller.signal);
    controller.abort();
    await expect(iterator.next()).rejects.toMatchObject({ name: "AbortError" });
    await expect(stream.done()).rejects.toMatchObject({ name: "AbortError" });
    // FIFO: this runs only once every rank has finished the cancelled request.
    await expect(runner.invoke({ op: "echo", value: "next" })).resolves.toBe("next");
    expect(abortedOnEveryRank(dir.path)).toEqual([
      expect.stringMatching(/^AbortError: Request \d+ was cancelled/),
      expect.stringMatching(/^AbortError: Request \d+ was cancelled/),
    ]);
  });

  it("cancels on every rank when the consumer leaves for-await early", async () => {
    using dir = tempDir();
    for await (const event of runner.stream({ op: "waitAbort", dir: dir.path })) {
      expect(event).toEqual({ running: true });
      break;
    }
    await expect(runner.invoke({ op: "echo", value: 1 })).resolves.toBe(1);
    expect(abortedOnEveryRank(dir.path)).toHaveLength(2);
  });

  it("cancels on every rank when the request times out, failing with REQUEST_TIMEOUT", async () => {
    using dir = tempDir();
    const stream = runner.stream({ op: "waitAbort", dir: dir.path }, { timeout: 1000 });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const error = await iterator.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    await runner.invoke({ op: "echo", value: 1 });
    expect(abortedOnEveryRank(dir.path)[0]).toMatch(/timed out after 1000 ms/);
  });

  it("fails with STREAM_IDLE when the ranks stream nothing for streamingTimeout", async () => {
    using dir = tempDir();
    const stream = runner.stream({ op: "waitAbort", dir: dir.path }, { streamingTimeout: 1000 });
    const events = stream.events()[Symbol.asyncIterator]();
    const seen = [];
    for (;;) {
      const { value, done } = await events.next();
      if (done) break;
      seen.push(value);
    }
    expect(seen.slice(0, 3)).toEqual([
      { type: "queued", position: 0 },
      { type: "started" },
      { type: "result", rank: 0, data: { running: true } },
    ]);
    const last = seen.at(-1) as { type: string; error: Error; fatal: boolean };
    expect(last.type).toBe("error");
    expect(last.fatal).toBe(true);
    expect(last.error).toBeInstanceOf(StreamIdleError);
    await runner.invoke({ op: "echo", value: 1 });
    expect(existsSync(join(dir.path, "aborted-1"))).toBe(true);
  });

  it("cancel() on the stream cancels the request on every rank", async () => {
    using dir = tempDir();
    const { stream } = await runningStream(dir.path);
    stream.cancel();
    await expect(stream.done()).rejects.toMatchObject({ name: "AbortError" });
    await runner.invoke({ op: "echo", value: 1 });
    expect(abortedOnEveryRank(dir.path)).toHaveLength(2);
  });
});
