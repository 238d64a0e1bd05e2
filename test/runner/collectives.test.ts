import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CollectiveMismatchError,
  CollectiveTimeoutError,
  DistributedRunner,
  WorkerCallError,
} from "../../src/index.ts";
import type DistWorker from "../fixtures/dist-worker.ts";
import { tempDir, waitForFile } from "../helpers.ts";

const distWorker = new URL("../fixtures/dist-worker.ts", import.meta.url);

function distRunner(worldSize: number): DistributedRunner<DistWorker> {
  // A long default timeout: a test that waits for it has found a bug (the test times out first).
  return new DistributedRunner<DistWorker>({
    worker: distWorker,
    worldSize,
    gpus: [],
    collectiveTimeout: 120_000,
  });
}

describe.each([1, 2, 3])("this.dist in a worker, world size %i", (worldSize) => {
  const runner = distRunner(worldSize);
  beforeAll(() => runner.start({ setup: { seed: 42 } }));
  afterAll(() => runner.stop());

  it("is there in setup(): every rank got rank 0's value by broadcast", async () => {
    await expect(runner.invoke({ op: "setupValue" })).resolves.toEqual(
      Array.from({ length: worldSize }, () => 42),
    );
  });

  it("all-reduces across every rank", async () => {
    const length = 1000;
    const sum = await runner.invoke({ op: "allReduce", length, reduce: "sum" });
    const ranksTotal = (worldSize * (worldSize + 1)) / 2;
    expect(sum).toEqual(Array.from({ length }, (_, i) => ranksTotal * (i + 1)));
    const max = await runner.invoke({ op: "allReduce", length, reduce: "max" });
    expect(max).toEqual(Array.from({ length }, (_, i) => worldSize * (i + 1)));
  });

  it("gathers every rank's tensor to rank 0, in rank order", async () => {
    const parts = await runner.invoke({ op: "gather", length: 3 });
    expect(parts).toEqual(
      Array.from({ length: worldSize }, (_, rank) => [
        rank * 1000,
        rank * 1000 + 1,
        rank * 1000 + 2,
      ]),
    );
  });
});

describe("a request whose ranks wait in a collective", () => {
  const runner = distRunner(3);
  beforeAll(() => runner.start({ setup: { seed: 1 } }));
  afterAll(() => runner.stop());

  it("aborts the pending collectives on every rank when cancelled, and the next request's collectives are correct", async () => {
    using dir = tempDir();
    const controller = new AbortController();
    const stream = runner.stream(
      { op: "stuckBarrier", absent: 2, dir: dir.path },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    await expect(iterator.next()).resolves.toEqual({ done: false, value: { entered: true } });
    for (const rank of [0, 1, 2]) await waitForFile(join(dir.path, `entered-${rank}`));
    controller.abort();
    await expect(iterator.next()).rejects.toMatchObject({ name: "AbortError" });
    for (const rank of [0, 1, 2]) await waitForFile(join(dir.path, `ended-${rank}`));
    const ended = [0, 1, 2].map((rank) => readFileSync(join(dir.path, `ended-${rank}`), "utf8"));
    expect(ended).toEqual([
      "CollectiveAbortedError COLLECTIVE_ABORTED",
      "CollectiveAbortedError COLLECTIVE_ABORTED",
      "signal",
    ]);
    // The group is usable, and nothing of the aborted barrier leaks into the next collectives.
    const sum = await runner.invoke({ op: "allReduce", length: 5, reduce: "sum" });
    expect(sum).toEqual([6, 12, 18, 24, 30]);
    const parts = await runner.invoke({ op: "gather", length: 1 });
    expect(parts).toEqual([[0], [1000], [2000]]);
  });

  it("fails with the throwing rank's own error, at once, while the others wait for it", async () => {
    const error = await runner
      .invoke({ op: "throwWhileOthersWait", rank: 2, message: "weights missing" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    expect(error).toMatchObject({ rank: 2, message: "Rank 2 failed: weights missing" });
    await expect(runner.invoke({ op: "gather", length: 1 })).resolves.toEqual([
      [0],
      [1000],
      [2000],
    ]);
  });

  it("reports mismatched collectives as COLLECTIVE_MISMATCH, rebuilt in the runner with its class", async () => {
    const error = await runner.invoke({ op: "mismatch" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(CollectiveMismatchError);
    expect((cause as Error).message).toMatch(/gather|broadcast/);
    await expect(runner.invoke({ op: "allReduce", length: 1, reduce: "max" })).resolves.toEqual([
      3,
    ]);
  });

  it("reports a collective's timeout as COLLECTIVE_TIMEOUT naming the rank that did not arrive", async () => {
    const error = await runner
      .invoke({ op: "timeout", absent: 1, timeout: 3000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    const cause = (error as Error).cause as CollectiveTimeoutError;
    expect(cause).toBeInstanceOf(CollectiveTimeoutError);
    expect(cause.details).toMatchObject({ missingRanks: [1] });
    await expect(runner.invoke({ op: "gather", length: 1 })).resolves.toEqual([
      [0],
      [1000],
      [2000],
    ]);
  });
});
