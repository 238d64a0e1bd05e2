import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { TCPStore } from "../../src/collectives/store/tcp-store.ts";
import {
  DistributedRunner,
  InvalidArgumentError,
  type Logger,
  WorkerExitedError,
} from "../../src/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { closeChannel, openChannels } from "../../src/runner/channel.ts";
import { rankEntry, rankNodeArgs } from "../../src/runner/node-args.ts";
import { RankGroup } from "../../src/runner/rank-group.ts";
import { RunnerLog } from "../../src/runner/runner-log.ts";
import { isRunning, recordingLogger, scenarioWorker } from "../helpers.ts";

describe("a group that breaks while the runner stops", () => {
  it("makes stop() resolve only once every rank of the broken group has exited", async () => {
    // Called back by the runner as it records the failure: stop() is called in the same turn,
    // right after the runner has killed the group's other ranks and before they are gone.
    const stopped = deferred<Promise<void>>();
    const logger: Logger = {
      ...recordingLogger(),
      error: () => queueMicrotask(() => stopped.resolve(runner.stop())),
    };
    const runner = new DistributedRunner({
      worker: scenarioWorker,
      worldSize: 3,
      gpus: [],
      logger,
      restart: { initialDelay: 60_000 },
    });
    await runner.start();
    const pids = runner.ranks.map((rank) => rank.pid as number);
    process.kill(pids[2] as number, "SIGKILL");
    await await stopped.promise;
    expect(runner.state).toBe("stopped");
    expect(pids.filter(isRunning)).toEqual([]);
  });
});

describe("a rank that cannot be started", () => {
  it("fails the group's start, typed and naming the rank, and kills the ranks started before it", async () => {
    const store = await TCPStore.listen({ host: "127.0.0.1", port: 0 });
    const channels = await openChannels(2);
    const entry = rankEntry();
    const group = new RankGroup(
      {
        worldSize: 2,
        workerUrl: scenarioWorker.href,
        setup: undefined,
        config: {
          streamAllRanks: false,
          maxPendingBytes: 1 << 20,
          highWaterMark: 64,
          collectiveTimeout: 60_000,
        },
        entry,
        nodeArgs: rankNodeArgs(entry, scenarioWorker.href),
        cwd: process.cwd(),
        env: {},
        masterAddr: "127.0.0.1",
        startTimeout: 60_000,
      },
      {
        generation: 1,
        // A NUL byte makes spawning rank 1 throw, after rank 0 was started. The runner's options
        // refuse such an id (below); a spawn can still throw for reasons no option shows.
        gpus: ["0", "1\0"],
        hideGpus: false,
        store,
        channels,
        sink: { receive: () => {} },
        log: new RunnerLog(recordingLogger()),
      },
    );
    const rank0 = group.ranks[0]?.pid as number;
    expect(group.ranks).toHaveLength(1);
    const error = await group.ready.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerExitedError);
    expect(error).toMatchObject({ code: "WORKER_EXITED", rank: 1 });
    expect((error as Error).message).toMatch(/^Rank 1 could not be started: /);
    await group.exited();
    expect(isRunning(rank0)).toBe(false);
    expect(group.state).toBe("failed");
  });

  it.each([
    [{ gpus: ["0", "1\0"] }, 'Expected `gpus[1]` to be a device id, got "1\\u0000"'],
    [
      { env: { LABEL: "a\0b" } },
      'Expected `env.LABEL` to be a string without NUL bytes (or undefined), got "a\\u0000b"',
    ],
    [{ env: { "A=B": "x" } }, 'Expected `env` to hold environment variable names, got "A=B"'],
    [
      { env: { COUNT: 3 as unknown as string } },
      "Expected `env.COUNT` to be a string without NUL bytes (or undefined), got 3",
    ],
  ])("is refused up front: %j", (options, message) => {
    expect(
      () => new DistributedRunner({ worker: scenarioWorker, worldSize: 2, ...options }),
    ).toThrow(new InvalidArgumentError(message));
  });
});

describe("a rank whose runner died before it could set the parent-death signal", () => {
  it("exits at once when its parent is not the runner that started it", async () => {
    const [channel] = await openChannels(1);
    if (channel === undefined) throw new Error("no channel");
    const entry = rankEntry();
    try {
      const child = spawn(process.execPath, [...rankNodeArgs(entry, scenarioWorker.href), entry], {
        // As if the runner that started it were pid 1: this test process is not its parent.
        env: { ...process.env, RANK: "0", WORLD_SIZE: "1", TROUPE_RUNNER_PID: "1" },
        stdio: ["ignore", "inherit", "inherit", channel.remote],
      });
      channel.remote.destroy();
      // The channel stays open and no init comes: without the check it would wait forever.
      const [code, signal] = await once(child, "exit");
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    } finally {
      closeChannel(channel);
    }
  });
});
