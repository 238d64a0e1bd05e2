import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistributedRunner, StreamedError } from "../../src/index.ts";
import type StreamingWorker from "../fixtures/streaming-worker.ts";
import { collect, scenarioRunner, streamingWorker } from "../helpers.ts";

describe("streaming from rank 0", () => {
  const runner = new DistributedRunner<StreamingWorker>({
    worker: streamingWorker,
    worldSize: 2,
    gpus: [],
  });
  beforeAll(() => runner.start({ setup: { model: "tiny" } }));
  afterAll(() => runner.stop());

  it("yields each result rank 0 adds, in order, then the final result last", async () => {
    const events = await collect(runner.stream({ prompt: "A sunset", steps: 4 }));
    expect(events).toEqual([
      { step: 0, progress: 0.25 },
      { step: 1, progress: 0.5 },
      { step: 2, progress: 0.75 },
      { step: 3, progress: 1 },
      { output: "A sunset (tiny, 4 steps, streamed)" },
    ]);
  });

  it("yields `data: <json>\\n\\n` bytes with asTextEvents, the final result as the last event", async () => {
    const chunks = await collect(
      runner.stream({ prompt: "A sunset", steps: 2 }, { asTextEvents: true }),
    );
    const text = chunks.map((chunk) => new TextDecoder().decode(chunk)).join("");
    expect(text).toBe(
      'data: {"step":0,"progress":0.5}\n\n' +
        'data: {"step":1,"progress":1}\n\n' +
        'data: {"output":"A sunset (tiny, 2 steps, streamed)"}\n\n',
    );
  });

  it("is read unchanged by the seed's fetch-reader parsing", async () => {
    // The seed's client: split decoded chunks on blank lines, parse each `data: ` line.
    const seen: string[] = [];
    for await (const value of runner.stream({ prompt: "p", steps: 3 }, { asTextEvents: true })) {
      const text = new TextDecoder().decode(value);
      for (const event of text.split("\n\n")) {
        if (event.startsWith("data: ")) {
          const data = JSON.parse(event.slice(6));
          if ("step" in data) seen.push(`Step ${data.step}: ${data.progress * 100}%`);
        }
      }
    }
    expect(seen).toEqual([
      "Step 0: 33.33333333333333%",
      "Step 1: 66.66666666666666%",
      "Step 2: 100%",
    ]);
  });

  it("gives the final result on its own with done(), without iterating", async () => {
    const stream = runner.stream({ prompt: "alone", steps: 5 });
    await expect(stream.done()).resolves.toEqual({ output: "alone (tiny, 5 steps, streamed)" });
  });

  it("gives the final result with done() after iterating too", async () => {
    const stream = runner.stream({ prompt: "both", steps: 1 });
    const events = await collect(stream);
    expect(events.at(-1)).toEqual(await stream.done());
  });

  it("yields typed events from events(): queue position, start, results, final", async () => {
    const events = await collect(runner.stream({ prompt: "typed", steps: 2 }).events());
    expect(events).toEqual([
      { type: "queued", position: 0 },
      { type: "started" },
      { type: "result", rank: 0, data: { step: 0, progress: 0.5 } },
      { type: "result", rank: 0, data: { step: 1, progress: 1 } },
      { type: "done", data: { output: "typed (tiny, 2 steps, streamed)" } },
    ]);
  });

  it("refuses a second consumer of the same stream", async () => {
    const stream = runner.stream({ prompt: "once", steps: 1 });
    const iterator = stream[Symbol.asyncIterator]();
    expect(() => stream.events()).toThrow(/already being consumed/);
    await iterator.return?.();
  });

  it("tells invoke() from stream() through ctx.streaming", async () => {
    await expect(runner.invoke({ prompt: "plain", steps: 3 })).resolves.toEqual({
      output: "plain (tiny, 3 steps, invoked)",
    });
  });
});

describe("delivery guarantees", () => {
  const runner = scenarioRunner();
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("delivers every one of 100,000 results added back-to-back exactly once, in order, when the worker returns right after", async () => {
    let expected = 0;
    let final: unknown;
    for await (const event of runner.stream({ op: "burst", count: 100_000 })) {
      const e = event as { i?: number; last?: boolean; count?: number };
      if (e.count !== undefined) {
        final = e;
        continue;
      }
      expect(e.i).toBe(expected);
      expected++;
    }
    expect(expected).toBe(100_001);
    expect(final).toEqual({ count: 100_000 });
  });

  it("never hands an invoke()'s results to the next stream", async () => {
    await expect(runner.invoke({ op: "burst", count: 5000 })).resolves.toEqual({ count: 5000 });
    const events = await collect(runner.stream({ op: "echo", value: "next" }));
    expect(events).toEqual(["next"]);
  });

  it("drops a result added by a timer after its call returned, instead of leaking it into the next request", async () => {
    await expect(collect(runner.stream({ op: "stray" }))).resolves.toEqual([{ ok: true }]);
    const next = await collect(runner.stream({ op: "burst", count: 2 }));
    expect(next).toEqual([{ i: 0 }, { i: 1 }, { i: 2, last: true }, { count: 2 }]);
  });

  it("yields a worker's addStreamingError as a StreamedError in place, and the request goes on", async () => {
    const events = await collect(runner.stream({ op: "streamError" }));
    expect(events).toHaveLength(4);
    expect(events[0]).toEqual({ before: true });
    const error = events[1] as StreamedError;
    expect(error).toBeInstanceOf(StreamedError);
    expect(error.code).toBe("WORKER_ERROR");
    expect(error.rank).toBe(0);
    expect(error.message).toContain("preview failed");
    expect(events.slice(2)).toEqual([{ after: true }, { ok: true }]);
  });

  it("sends a streamed error as an `event: error` text event that fal's client skips", async () => {
    const chunks = await collect(runner.stream({ op: "streamError" }, { asTextEvents: true }));
    const texts = chunks.map((c) => new TextDecoder().decode(c));
    expect(texts[0]).toBe('data: {"before":true}\n\n');
    expect(texts[1]).toMatch(
      /^event: error\ndata: \{"error":\{.*preview failed".*\},"fatal":false\}\n\n$/,
    );
    expect(texts.slice(2)).toEqual(['data: {"after":true}\n\n', 'data: {"ok":true}\n\n']);
  });

  it("keeps only the newest unread result for a latest-wins key, and every result without one", async () => {
    const events = (await collect(
      runner.stream({ op: "burst", count: 10_000, key: "preview" }),
    )) as {
      i?: number;
    }[];
    const previews = events.slice(0, -2).map((e) => e.i as number);
    expect(previews.length).toBeLessThan(10_000);
    expect(previews.at(-1)).toBe(9999);
    for (let k = 1; k < previews.length; k++) {
      expect(previews[k]).toBeGreaterThan(previews[k - 1] as number);
    }
    expect(events.slice(-2)).toEqual([{ i: 10_000, last: true }, { count: 10_000 }]);
  });

  it("drops results added on rank 1 with a single warning", async () => {
    const events = await collect(runner.stream({ op: "allRanks" }));
    expect(events).toEqual([{ from: 0 }, { rank: 0 }]);
    await collect(runner.stream({ op: "allRanks" }));
    const warnings = runner.logs.filter(
      (r) => r.level === "warn" && /dropped a streaming result: only rank 0/.test(r.msg ?? ""),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.obj).toEqual({ rank: 1 });
  });
});

describe("streamAllRanks", () => {
  const runner = scenarioRunner({ streamAllRanks: true });
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("forwards every rank's results tagged with their rank", async () => {
    const events = await collect(runner.stream({ op: "allRanks" }));
    expect(events.at(-1)).toEqual({ rank: 0 });
    expect(events.slice(0, -1)).toEqual(
      expect.arrayContaining([
        { rank: 0, result: { from: 0 } },
        { rank: 1, result: { from: 1 } },
      ]),
    );
    expect(events).toHaveLength(3);
  });
});
