import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  DistributedRunner,
  GroupUnavailableError,
  InvalidWorkerError,
  ProtocolError,
  SetupError,
  WorkerCallError,
  WorkerExitedError,
} from "../../src/index.ts";
import { collect, isRunning, scenarioRunner, tempDir } from "../helpers.ts";

describe("a rank whose setup() throws", () => {
  it("makes start() reject naming the rank and cause, and leaves no process behind", async () => {
    using dir = tempDir();
    const runner = new DistributedRunner({
      worker: new URL("../fixtures/setup-fails-worker.ts", import.meta.url),
      worldSize: 2,
      gpus: [],
    });
    const error = await runner
      .start({ setup: { failRank: 1, dir: dir.path } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupError);
    expect(error).toMatchObject({ code: "SETUP_FAILED", rank: 1 });
    expect((error as Error).message).toBe("Rank 1 failed in setup(): no model for rank 1");
    expect(((error as Error).cause as Error).stack).toContain("setup-fails-worker.ts");
    for (const rank of [0, 1]) {
      const pid = Number(readFileSync(join(dir.path, `pid-${rank}`), "utf8"));
      expect(isRunning(pid)).toBe(false);
    }
    expect(runner.state).toBe("idle");
  });
});

describe("a call made while start() runs", () => {
  it("fails with start()'s error when the start fails, instead of waiting for a group that never comes", async () => {
    using dir = tempDir();
    const runner = new DistributedRunner({
      worker: new URL("../fixtures/setup-fails-worker.ts", import.meta.url),
      worldSize: 2,
      gpus: [],
    });
    const started = runner.start({ setup: { failRank: 0, dir: dir.path } });
    const call = runner.invoke(null);
    const [startError, callError] = await Promise.all([
      started.catch((e: unknown) => e),
      call.catch((e: unknown) => e),
    ]);
    expect(startError).toBeInstanceOf(SetupError);
    expect(callError).toBe(startError);
    expect(runner.queueLength).toBe(0);
  });
});

describe("a rank whose call() throws", () => {
  const runner = scenarioRunner();
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("fails invoke() with the rank, message and stack, and the runner stays usable", async () => {
    const error = await runner
      .invoke({ op: "throw", rank: 1, message: "out of memory" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    expect(error).toMatchObject({
      code: "CALL_FAILED",
      rank: 1,
      message: "Rank 1 failed: out of memory",
    });
    expect(((error as Error).cause as Error).stack).toMatch(
      /failOnPurpose[\s\S]*scenario-worker\.ts/,
    );
    await expect(runner.invoke({ op: "echo", value: "still here" })).resolves.toBe("still here");
  });

  it("ends an object stream by throwing the typed error", async () => {
    const error = await collect(
      runner.stream({ op: "throw", rank: 0, message: "bad prompt" }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    expect(error).toMatchObject({ rank: 0, message: "Rank 0 failed: bad prompt" });
  });

  it("ends a text stream with one structured `event: error`, not something that looks like a result", async () => {
    const stream = runner.stream(
      { op: "throw", rank: 1, message: "bad prompt" },
      { asTextEvents: true },
    );
    const chunks = (await collect(stream)).map((c) => new TextDecoder().decode(c));
    expect(chunks).toHaveLength(1);
    const [header, data] = (chunks[0] as string).split("\n");
    expect(header).toBe("event: error");
    const payload = JSON.parse((data as string).slice("data: ".length));
    expect(payload).toMatchObject({
      fatal: true,
      error: { code: "CALL_FAILED", rank: 1, message: "Rank 1 failed: bad prompt" },
    });
    // The public form: no stack, no cause chain, no file path; those stay on the error object.
    expect(payload.error).not.toHaveProperty("stack");
    expect(payload.error).not.toHaveProperty("cause");
    expect(data).not.toContain("scenario-worker.ts");
    const failure = await stream.done().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkerCallError);
    expect(((failure as WorkerCallError).cause as Error).stack).toContain("scenario-worker.ts");
    await expect(runner.invoke({ op: "echo", value: 1 })).resolves.toBe(1);
  });
});

describe("a result or return value that cannot be sent", () => {
  const runner = scenarioRunner();
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("fails the request where the worker added the result, naming the path, after the results before it", async () => {
    const seen = [];
    for await (const event of runner.stream({ op: "unsendable", where: "result" }).events()) {
      seen.push(event);
    }
    expect(seen.filter((e) => e.type === "result")).toEqual([
      { type: "result", rank: 0, data: { step: 1 } },
    ]);
    const last = seen.at(-1) as { type: string; fatal: boolean; error: Error };
    expect(last).toMatchObject({ type: "error", fatal: true });
    expect(last.error).toBeInstanceOf(WorkerCallError);
    expect(last.error.message).toBe(
      "Rank 0 failed: Expected `result.onDone` to be data that can be sent to another process, got a function",
    );
    expect((last.error.cause as { code?: string }).code).toBe("INVALID_PAYLOAD");
  });

  it("fails the request naming the return value's path, and the runner stays usable", async () => {
    await expect(runner.invoke({ op: "unsendable", where: "output" })).rejects.toMatchObject({
      code: "CALL_FAILED",
      rank: 0,
      message:
        "Rank 0 failed: Expected `the return value of call().callback` to be data that can be sent to another process, got a function",
    });
    await expect(runner.invoke({ op: "echo", value: 1 })).resolves.toBe(1);
  });
});

describe("a rank that writes a malformed frame to its channel", () => {
  const runner = scenarioRunner({ restart: { initialDelay: 0 } });
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("fails the request with a PROTOCOL_ERROR naming the rank, restarts the group and serves the next request", async () => {
    const pidsBefore = runner.ranks.map((r) => r.pid);
    const seen = [];
    for await (const event of runner.stream({ op: "corrupt", rank: 1 }).events()) seen.push(event);
    const last = seen.at(-1) as { type: string; fatal: boolean; error: Error };
    expect(last).toMatchObject({ type: "error", fatal: true });
    expect(last.error).toBeInstanceOf(ProtocolError);
    expect(last.error).toMatchObject({
      code: "PROTOCOL_ERROR",
      rank: 1,
      message: "Rank 1: Truncated results frame of 3 bytes",
    });
    await expect(runner.invoke({ op: "echo", value: "after restart" })).resolves.toBe(
      "after restart",
    );
    expect(runner.ranks.map((r) => r.pid)).not.toContain(pidsBefore[1]);
    expect(runner.gatherErrors()).toContainEqual(expect.any(ProtocolError));
  });
});

describe("a rank process that dies mid-request", () => {
  const runner = scenarioRunner({ restart: { initialDelay: 0 } });
  beforeAll(() => runner.start());
  afterAll(() => runner.stop());

  it("fails the request naming the rank and signal, restarts the group and serves the next request", async () => {
    const pidsBefore = runner.ranks.map((r) => r.pid);
    const stream = runner.stream({ op: "exit", rank: 1 });
    const events = stream.events()[Symbol.asyncIterator]();
    const seen = [];
    for (;;) {
      const { done, value } = await events.next();
      if (done) break;
      seen.push(value);
    }
    expect(seen).toContainEqual({ type: "result", rank: 0, data: { exiting: 1 } });
    const last = seen.at(-1) as { type: string; error: Error };
    expect(last.error).toBeInstanceOf(WorkerExitedError);
    expect(last.error).toMatchObject({
      code: "WORKER_EXITED",
      rank: 1,
      message: "Rank 1 exited from signal SIGKILL",
      details: { exitCode: null, signal: "SIGKILL" },
    });
    await expect(runner.invoke({ op: "echo", value: "after restart" })).resolves.toBe(
      "after restart",
    );
    const pidsAfter = runner.ranks.map((r) => r.pid);
    expect(pidsAfter).not.toContain(pidsBefore[0]);
    expect(pidsAfter).not.toContain(pidsBefore[1]);
    expect(runner.gatherErrors()).toContainEqual(expect.any(WorkerExitedError));
    expect(runner.gatherErrors()).toEqual([]);
  });

  it("restarts a group whose rank ignores cancellation once cancelGracePeriod has passed", async () => {
    const hung = scenarioRunner({ cancelGracePeriod: 500, restart: { initialDelay: 0 } });
    await hung.start();
    try {
      const stream = hung.stream({ op: "spin", rank: 1 });
      const events = stream[Symbol.asyncIterator]();
      // Rank 0's result says every rank was told to go (a request's ranks start in two phases),
      // so rank 1 is in call() and spins, whenever the cancel reaches it.
      expect((await events.next()).value).toEqual({ spinning: 1 });
      stream.cancel();
      await expect(events.next()).rejects.toMatchObject({ name: "AbortError" });
      await expect(hung.invoke({ op: "echo", value: "fresh group" })).resolves.toBe("fresh group");
      expect(hung.gatherErrors().map((e) => e.message)).toContainEqual(
        expect.stringMatching(/^Rank 1 did not finish cancelled request/),
      );
    } finally {
      await hung.stop();
    }
  });
});

describe("restarts turned off", () => {
  it("puts the runner in `failed`, fails requests with GROUP_UNAVAILABLE, and ensureAlive() starts it again", async () => {
    const runner = scenarioRunner({ restart: false });
    await runner.start();
    try {
      await expect(runner.invoke({ op: "exit", rank: 0 })).rejects.toBeInstanceOf(
        WorkerExitedError,
      );
      expect(runner.state).toBe("failed");
      expect(runner.isAlive()).toBe(false);
      await expect(runner.invoke({ op: "echo", value: 1 })).rejects.toBeInstanceOf(
        GroupUnavailableError,
      );
      await runner.ensureAlive();
      expect(runner.isAlive()).toBe(true);
      await expect(runner.invoke({ op: "echo", value: 2 })).resolves.toBe(2);
    } finally {
      await runner.stop();
    }
  });
});

describe("the runner's own process dying", () => {
  const tsx = createRequire(import.meta.url).resolve("tsx");

  async function killParentAndWatchRanks(args: string[]): Promise<number[]> {
    const parent = spawn(process.execPath, ["--import", tsx, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    const firstLine = new Promise<string>((resolve) => {
      parent.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("\n")) resolve(output.slice(0, output.indexOf("\n")));
      });
    });
    const pids = JSON.parse(await firstLine) as number[];
    // The ranks inherited this pipe as their stdout: it ends only when every holder has exited.
    const ended = new Promise<void>((resolve) => parent.stdout.on("end", resolve));
    parent.kill("SIGKILL");
    await ended;
    // A process closes its files a moment before it becomes a zombie: wait for that moment.
    for (const pid of pids) {
      await vi.waitFor(() => expect(isRunning(pid)).toBe(false), { timeout: 5000 });
    }
    return pids;
  }

  it("makes every idle rank exit on its own", async () => {
    const pids = await killParentAndWatchRanks([
      new URL("../fixtures/orphan-parent.ts", import.meta.url).pathname,
    ]);
    expect(pids).toHaveLength(2);
  });

  it("makes a rank stuck in a busy loop exit too", async () => {
    const pids = await killParentAndWatchRanks([
      new URL("../fixtures/orphan-parent.ts", import.meta.url).pathname,
      "--busy",
    ]);
    expect(pids).toHaveLength(2);
  });
});

describe("a worker module that is not a worker", () => {
  it("fails start() with INVALID_WORKER when the default export is not a DistributedWorker class", async () => {
    const runner = new DistributedRunner({
      worker: new URL("../fixtures/not-a-worker.ts", import.meta.url),
      gpus: [],
    });
    const error = await runner.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidWorkerError);
    expect((error as Error).message).toMatch(
      /Expected the default export of .*not-a-worker\.ts to be a class extending DistributedWorker, got the function notAWorker/,
    );
  });
});
