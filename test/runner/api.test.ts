import { once } from "node:events";
import { type AddressInfo, connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort } from "../../bench/free-port.ts";
import {
  DistributedRunner,
  InvalidArgumentError,
  InvalidPayloadError,
  InvalidWorkerError,
  RunnerStateError,
  StoreError,
  StreamOverflowError,
  WorkerCallError,
} from "../../src/index.ts";
import { collect, scenarioRunner, scenarioWorker, tempDir, waitForFile } from "../helpers.ts";

describe("bad input to the API", () => {
  it("rejects a worker module that does not exist, naming its path", () => {
    expect(() => new DistributedRunner({ worker: "./no/such/worker.ts" })).toThrow(
      InvalidWorkerError,
    );
    expect(() => new DistributedRunner({ worker: "./no/such/worker.ts" })).toThrow(
      /The worker module .*no\/such\/worker\.ts does not exist/,
    );
  });

  it.each([0, -1, 1.5, "2", Number.NaN])("rejects worldSize %s, naming the value", (worldSize) => {
    expect(
      () => new DistributedRunner({ worker: scenarioWorker, worldSize: worldSize as number }),
    ).toThrow(
      new InvalidArgumentError(
        `Expected \`worldSize\` to be a positive integer, got ${typeof worldSize === "string" ? `"${worldSize}"` : String(worldSize)}`,
      ),
    );
  });

  it("rejects more ranks than the GPUs it was given", () => {
    expect(
      () => new DistributedRunner({ worker: scenarioWorker, worldSize: 3, gpus: [0, 1] }),
    ).toThrow(/Expected at least 3 GPUs for worldSize 3, got 2 in `gpus` \(0, 1\)/);
  });

  it("rejects invoke() and stream() before start()", async () => {
    const runner = new DistributedRunner({ worker: scenarioWorker, gpus: [] });
    await expect(runner.invoke({})).rejects.toMatchObject({ code: "NOT_STARTED" });
    expect(() => runner.stream({})).toThrow(RunnerStateError);
  });

  describe("on a started runner", () => {
    const runner = scenarioRunner();
    beforeAll(() => runner.start());
    afterAll(() => runner.stop());

    it("rejects a second start()", async () => {
      await expect(runner.start()).rejects.toMatchObject({ code: "ALREADY_STARTED" });
    });

    it("rejects a payload holding a function, naming where", async () => {
      const payload = { op: "echo", value: { nested: [1, () => 2] } } as never;
      await expect(runner.invoke(payload)).rejects.toThrow(
        new InvalidPayloadError(
          "Expected `payload.value.nested[1]` to be data that can be sent to another process, got a function",
        ),
      );
    });

    it("rejects a payload holding a cycle, naming where", () => {
      const value: Record<string, unknown> = { a: 1 };
      value.self = value;
      expect(() => runner.stream({ op: "echo", value })).toThrow(
        /`payload\.value\.self`.*reference cycle/,
      );
    });

    it("rejects an invalid timeout, naming the value", async () => {
      await expect(runner.invoke({ op: "echo", value: 1 }, { timeout: -5 })).rejects.toThrow(
        "Expected `timeout` to be a positive number of milliseconds, got -5",
      );
    });

    it("rejects a signal that already aborted", async () => {
      await expect(
        runner.invoke({ op: "echo", value: 1 }, { signal: AbortSignal.abort() }),
      ).rejects.toMatchObject({
        name: "AbortError",
      });
    });
  });

  it("rejects invoke() after stop()", async () => {
    const runner = scenarioRunner({ worldSize: 1 });
    await runner.start();
    await runner.stop();
    await expect(runner.invoke({ op: "echo", value: 1 })).rejects.toMatchObject({
      code: "RUNNER_STOPPED",
    });
    await expect(runner.start()).rejects.toMatchObject({ code: "RUNNER_STOPPED" });
  });
});

describe("a consumer that reads slowly", () => {
  const runner = scenarioRunner({ highWaterMark: 16 });
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("holds the worker back (its addStreamingResult promise waits) and still receives every result in order", async () => {
    using dir = tempDir();
    // 2000 results of 1 KiB: far more than the runner's 16 buffered results plus the socket's
    // buffers, so a consumer that stops reading must hold the worker back.
    const iterator = runner
      .stream({ op: "awaitBurst", count: 2000, pad: 1024, dir: dir.path })
      [Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ i: 0 });
    // Stop reading until the worker reports that a result's promise is waiting.
    await waitForFile(join(dir.path, "held"));
    let expected = 1;
    let final: unknown;
    for (;;) {
      const { done, value } = await iterator.next();
      if (done) break;
      const event = value as { i?: number; waited?: number };
      if (event.waited !== undefined) {
        final = event;
        continue;
      }
      expect(event.i).toBe(expected++);
    }
    expect(expected).toBe(2000);
    expect((final as { waited: number }).waited).toBeGreaterThan(0);
  });

  it("fails with STREAM_OVERFLOW, after the results it accepted, when a worker ignores backpressure past maxPendingBytes", async () => {
    const small = scenarioRunner({ worldSize: 1, maxPendingBytes: 256 * 1024 });
    await small.start();
    try {
      const received: number[] = [];
      const error = await (async () => {
        for await (const event of small.stream({ op: "overflow", count: 10_000, size: 1000 })) {
          received.push((event as { i: number }).i);
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerCallError);
      expect((error as Error).cause).toBeInstanceOf(StreamOverflowError);
      expect((error as Error).cause).toMatchObject({ code: "STREAM_OVERFLOW", rank: 0 });
      expect(received.length).toBeGreaterThan(0);
      expect(received).toEqual(received.map((_, k) => k));
    } finally {
      await small.stop();
    }
  });
});

describe("keepalive", () => {
  it("invokes the keepalive payload after `interval` ms of idleness", async () => {
    const runner = scenarioRunner({
      worldSize: 1,
      keepalive: { payload: { op: "echo", value: "ping" }, interval: 60_000 },
    });
    await runner.start();
    try {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      await runner.invoke({ op: "echo", value: 1 });
      vi.advanceTimersByTime(60_000);
      vi.useRealTimers();
      // FIFO: the keepalive call was queued first, so `count` sees it.
      await expect(runner.invoke({ op: "count" })).resolves.toEqual({ calls: ["echo", "echo"] });
    } finally {
      vi.useRealTimers();
      await runner.stop();
    }
  });
});

describe("the ranks' environment", () => {
  it("follows torchrun's contract, and gives each rank its GPU as its only visible device", async () => {
    const masterPort = await freePort();
    const runner = scenarioRunner({
      gpus: ["3", "GPU-8f2e"],
      masterAddr: "127.0.0.1",
      masterPort,
      env: { TROUPE_TEST_VAR: "hello" },
      cwd: "/tmp",
      streamAllRanks: true,
    });
    await runner.start();
    try {
      const events = (await collect(runner.stream({ op: "env" }))) as Record<string, unknown>[];
      const rank0 = events.at(-1);
      expect(rank0).toMatchObject({
        rank: 0,
        worldSize: 2,
        localRank: 0,
        device: "cuda:0",
        cwd: "/tmp",
        env: {
          RANK: "0",
          LOCAL_RANK: "0",
          WORLD_SIZE: "2",
          MASTER_ADDR: "127.0.0.1",
          MASTER_PORT: String(masterPort),
          CUDA_VISIBLE_DEVICES: "3",
          TROUPE_TEST_VAR: "hello",
        },
      });
    } finally {
      await runner.stop();
    }
  });

  it("meets at a store the runner hosts on MASTER_PORT for the group's life, closed by stop()", async () => {
    const runner = scenarioRunner({ worldSize: 1, gpus: [] });
    await runner.start();
    const { env } = (await runner.invoke({ op: "env" })) as { env: Record<string, string> };
    const port = Number(env.MASTER_PORT);
    const connects = async (): Promise<boolean> => {
      const socket = connect(port, "127.0.0.1");
      try {
        await once(socket, "connect");
        return true;
      } catch {
        return false;
      } finally {
        socket.destroy();
      }
    };
    expect(await connects()).toBe(true);
    await runner.stop();
    expect(await connects()).toBe(false);
  });

  it("fails start() with STORE_ERROR naming a masterPort that is taken, and starts no rank", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const { port } = taken.address() as AddressInfo;
    const runner = scenarioRunner({ worldSize: 2, gpus: [], masterPort: port });
    try {
      const error = await runner.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: "STORE_ERROR" });
      expect((error as Error).message).toContain(`Cannot listen on 127.0.0.1:${port}`);
      expect(runner.ranks).toEqual([]);
    } finally {
      taken.close();
      await runner.stop();
    }
  });

  it("hides every GPU with gpus: [] and runs the ranks on cpu", async () => {
    const runner = scenarioRunner({ worldSize: 1, gpus: [] });
    await runner.start();
    try {
      const info = (await runner.invoke({ op: "env" })) as {
        device: string;
        env: Record<string, string>;
      };
      expect(info.device).toBe("cpu");
      expect(info.env.CUDA_VISIBLE_DEVICES).toBe("");
    } finally {
      await runner.stop();
    }
  });

  it("supports `await using` and stops the ranks at the end of the scope", async () => {
    let pids: (number | undefined)[];
    {
      await using runner = scenarioRunner({ worldSize: 1 });
      await runner.start();
      pids = runner.ranks.map((r) => r.pid);
      expect(runner.isAlive()).toBe(true);
    }
    const { isRunning } = await import("../helpers.ts");
    for (const pid of pids) expect(isRunning(pid as number)).toBe(false);
  });
});
