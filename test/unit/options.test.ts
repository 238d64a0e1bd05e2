import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, InvalidWorkerError } from "../../src/errors.ts";
import type { Logger } from "../../src/runner/logger.ts";
import { type DistributedRunnerOptions, resolveRunnerOptions } from "../../src/runner/options.ts";

const workerPath = fileURLToPath(new URL("../fixtures/streaming-worker.ts", import.meta.url));
const workerHref = pathToFileURL(workerPath).href;
const repoRoot = dirname(dirname(dirname(workerPath)));

function rejects(options: unknown): InvalidArgumentError {
  try {
    resolveRunnerOptions(options as DistributedRunnerOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error("Expected resolveRunnerOptions to throw");
}

const withWorker = (options: Record<string, unknown>): unknown => ({
  worker: workerPath,
  ...options,
});

describe("resolveRunnerOptions", () => {
  it("fills in every default", () => {
    const resolved = resolveRunnerOptions({ worker: workerPath });
    expect(resolved).toEqual({
      workerUrl: workerHref,
      worldSize: 1,
      cwd: process.cwd(),
      env: {},
      gpus: "auto",
      masterAddr: "127.0.0.1",
      masterPort: undefined,
      keepalive: undefined,
      streamAllRanks: false,
      restart: { enabled: true, initialDelay: 100, maxDelay: 10_000, factor: 2, maxAttempts: 5 },
      cancelGracePeriod: 5000,
      highWaterMark: 1024,
      maxPendingBytes: 64 * 1024 * 1024,
      collectiveTimeout: 300_000,
      logger: undefined,
    });
  });

  it("keeps every valid option given", () => {
    const logger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    const resolved = resolveRunnerOptions({
      worker: workerPath,
      worldSize: 2,
      cwd: repoRoot,
      env: { A: "1", B: undefined },
      gpus: [0, "GPU-1234"],
      masterAddr: "10.0.0.1",
      masterPort: 29500,
      keepalive: { payload: { ping: true }, interval: 1000 },
      streamAllRanks: true,
      restart: { initialDelay: 0, maxAttempts: Number.POSITIVE_INFINITY },
      cancelGracePeriod: 0,
      highWaterMark: 1,
      maxPendingBytes: 1,
      logger,
    });
    expect(resolved).toMatchObject({
      worldSize: 2,
      cwd: repoRoot,
      env: { A: "1", B: undefined },
      gpus: ["0", "GPU-1234"],
      masterAddr: "10.0.0.1",
      masterPort: 29500,
      keepalive: { payload: { ping: true }, interval: 1000 },
      streamAllRanks: true,
      restart: {
        enabled: true,
        initialDelay: 0,
        maxDelay: 10_000,
        factor: 2,
        maxAttempts: Number.POSITIVE_INFINITY,
      },
      cancelGracePeriod: 0,
      highWaterMark: 1,
      maxPendingBytes: 1,
    });
    expect(resolved.logger).toBe(logger);
  });

  it("copies env, so later changes to the caller's object do not reach the ranks", () => {
    const env: Record<string, string> = { A: "1" };
    const resolved = resolveRunnerOptions({ worker: workerPath, env });
    env.A = "2";
    expect(resolved.env).toEqual({ A: "1" });
  });

  it("turns restart: false into a disabled policy with the default delays", () => {
    expect(resolveRunnerOptions({ worker: workerPath, restart: false }).restart).toEqual({
      enabled: false,
      initialDelay: 100,
      maxDelay: 10_000,
      factor: 2,
      maxAttempts: 5,
    });
  });

  describe("worker", () => {
    it("resolves a relative path against the cwd option", () => {
      const resolved = resolveRunnerOptions({
        worker: "test/fixtures/streaming-worker.ts",
        cwd: repoRoot,
      });
      expect(resolved.workerUrl).toBe(workerHref);
    });

    it("resolves a relative path against process.cwd() when no cwd is given", () => {
      const resolved = resolveRunnerOptions({ worker: relative(process.cwd(), workerPath) });
      expect(resolved.workerUrl).toBe(workerHref);
    });

    it("accepts a file URL object and a file: URL string", () => {
      expect(resolveRunnerOptions({ worker: new URL(workerHref) }).workerUrl).toBe(workerHref);
      expect(resolveRunnerOptions({ worker: workerHref }).workerUrl).toBe(workerHref);
    });

    it("ignores cwd for an absolute path", () => {
      const resolved = resolveRunnerOptions({ worker: workerPath, cwd: "/nonexistent-dir" });
      expect(resolved.workerUrl).toBe(workerHref);
    });

    it.each([
      [undefined, "undefined"],
      ["", '""'],
      [42, "42"],
      [null, "null"],
    ])("rejects the worker %j, naming it", (worker, shown) => {
      expect(rejects({ worker }).message).toBe(
        `Expected \`worker\` to be a file URL or path of a worker module, got ${shown}`,
      );
    });

    it("rejects a URL that is not a file: URL", () => {
      expect(rejects({ worker: new URL("https://example.com/worker.js") }).message).toBe(
        "Expected `worker` to be a file: URL, got https://example.com/worker.js",
      );
    });

    it("throws InvalidWorkerError naming the path of a module that does not exist", () => {
      const missing = join(repoRoot, "test", "fixtures", "no-such-worker.ts");
      let thrown: unknown;
      try {
        resolveRunnerOptions({ worker: "test/fixtures/no-such-worker.ts", cwd: repoRoot });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidWorkerError);
      expect((thrown as InvalidWorkerError).code).toBe("INVALID_WORKER");
      expect((thrown as Error).message).toBe(`The worker module ${missing} does not exist`);
    });
  });

  it.each([
    [null, "null"],
    ["worker.ts", '"worker.ts"'],
    [undefined, "undefined"],
  ])("rejects options that are not an object (%j)", (options, shown) => {
    expect(rejects(options).message).toBe(`Expected options to be an object, got ${shown}`);
  });

  it.each([
    [0, "0"],
    [-1, "-1"],
    [1.5, "1.5"],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "Infinity"],
    ["2", '"2"'],
    [2n, "2n"],
  ])("rejects worldSize %s, naming it", (worldSize, shown) => {
    expect(rejects(withWorker({ worldSize })).message).toBe(
      `Expected \`worldSize\` to be a positive integer, got ${shown}`,
    );
  });

  describe("gpus", () => {
    it("turns numeric ids into strings and keeps UUIDs", () => {
      expect(
        resolveRunnerOptions({ worker: workerPath, gpus: [3, "MIG-abc"], worldSize: 2 }).gpus,
      ).toEqual(["3", "MIG-abc"]);
    });

    it("accepts an empty list (CPU) for any worldSize, and more GPUs than ranks", () => {
      expect(resolveRunnerOptions({ worker: workerPath, gpus: [], worldSize: 4 }).gpus).toEqual([]);
      expect(
        resolveRunnerOptions({ worker: workerPath, gpus: [0, 1, 2], worldSize: 2 }).gpus,
      ).toEqual(["0", "1", "2"]);
    });

    it("rejects fewer GPUs than ranks, naming both counts", () => {
      expect(rejects(withWorker({ gpus: [0, 1], worldSize: 3 })).message).toBe(
        "Expected at least 3 GPUs for worldSize 3, got 2 in `gpus` (0, 1); pass gpus: [] to run on CPU",
      );
    });

    it.each([
      ["all", '"all"'],
      [0, "0"],
      [{ 0: "0" }, '{"0":"0"}'],
    ])('rejects gpus %j that is neither "auto" nor an array', (gpus, shown) => {
      expect(rejects(withWorker({ gpus })).message).toBe(
        `Expected \`gpus\` to be "auto" or an array of device ids, got ${shown}`,
      );
    });

    it.each([
      [[0, -1], 1, "-1"],
      [[""], 0, '""'],
      [[1.5], 0, "1.5"],
      [[0, null], 1, "null"],
      [[true], 0, "true"],
    ])("rejects the device ids %j, naming the bad entry", (gpus, index, shown) => {
      expect(rejects(withWorker({ gpus })).message).toBe(
        `Expected \`gpus[${index}]\` to be a device id, got ${shown}`,
      );
    });
  });

  it.each([
    [0, "0"],
    [65536, "65536"],
    [80.5, "80.5"],
    ["29500", '"29500"'],
  ])("rejects masterPort %j, naming it", (masterPort, shown) => {
    expect(rejects(withWorker({ masterPort })).message).toBe(
      `Expected \`masterPort\` to be a port number (1-65535), got ${shown}`,
    );
  });

  it("accepts the lowest and highest port numbers", () => {
    expect(resolveRunnerOptions({ worker: workerPath, masterPort: 1 }).masterPort).toBe(1);
    expect(resolveRunnerOptions({ worker: workerPath, masterPort: 65535 }).masterPort).toBe(65535);
  });

  it.each([
    [0, "0"],
    [2.5, "2.5"],
    [undefined, "undefined"],
  ])("rejects keepalive.interval %j, naming it", (interval, shown) => {
    expect(rejects(withWorker({ keepalive: { payload: {}, interval } })).message).toBe(
      `Expected \`keepalive.interval\` to be a positive integer, got ${shown}`,
    );
  });

  it("rejects a keepalive payload that cannot be sent to the ranks, naming where in it", () => {
    expect(() =>
      resolveRunnerOptions(
        withWorker({
          keepalive: { payload: { op: "ping", onDone: () => {} }, interval: 1000 },
        }) as DistributedRunnerOptions,
      ),
    ).toThrow(
      expect.objectContaining({
        code: "INVALID_PAYLOAD",
        message:
          "Expected `keepalive.payload.onDone` to be data that can be sent to another process, got a function",
      }),
    );
  });

  // BUG (src/runner/options.ts): `keepalive: null` (a common JS "off") reaches
  // `keepalive.interval` and throws a TypeError ("Cannot read properties of null") instead of an
  // InvalidArgumentError naming the option; any non-object keepalive is not validated.
  it("rejects keepalive: null with an InvalidArgumentError", () => {
    expect(() =>
      resolveRunnerOptions(withWorker({ keepalive: null }) as DistributedRunnerOptions),
    ).toThrow(InvalidArgumentError);
  });

  it.each([
    [{ initialDelay: -1 }, "Expected `restart.initialDelay` to be a non-negative number, got -1"],
    [{ maxDelay: Number.NaN }, "Expected `restart.maxDelay` to be a non-negative number, got NaN"],
    [{ maxDelay: "1s" }, 'Expected `restart.maxDelay` to be a non-negative number, got "1s"'],
    [{ factor: 0.5 }, "Expected `restart.factor` to be at least 1, got 0.5"],
    [{ factor: Number.NaN }, "Expected `restart.factor` to be at least 1, got NaN"],
    [{ maxAttempts: 0 }, "Expected `restart.maxAttempts` to be a positive integer, got 0"],
    [{ maxAttempts: 1.5 }, "Expected `restart.maxAttempts` to be a positive integer, got 1.5"],
  ])("rejects the restart policy %j, naming the bad field", (restart, message) => {
    expect(rejects(withWorker({ restart })).message).toBe(message);
  });

  it.each([
    ["cancelGracePeriod", -1, "Expected `cancelGracePeriod` to be a non-negative number, got -1"],
    [
      "cancelGracePeriod",
      "5s",
      'Expected `cancelGracePeriod` to be a non-negative number, got "5s"',
    ],
    ["highWaterMark", 0, "Expected `highWaterMark` to be a positive integer, got 0"],
    ["highWaterMark", 1.5, "Expected `highWaterMark` to be a positive integer, got 1.5"],
    ["maxPendingBytes", -5, "Expected `maxPendingBytes` to be a positive integer, got -5"],
    [
      "maxPendingBytes",
      2 ** 53,
      `Expected \`maxPendingBytes\` to be a positive integer, got ${2 ** 53}`,
    ],
  ])("rejects %s %j, naming it", (name, value, message) => {
    expect(rejects(withWorker({ [name]: value })).message).toBe(message);
  });

  it("gives every validation failure the INVALID_ARGUMENT code", () => {
    expect(rejects(withWorker({ worldSize: 0 })).code).toBe("INVALID_ARGUMENT");
  });
});
