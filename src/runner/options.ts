import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidArgumentError, InvalidWorkerError } from "../errors.ts";
import { assertSendable } from "../internal/sendable.ts";
import type { Logger } from "./logger.ts";

/** How the runner restarts the group after a rank dies. */
export interface RestartPolicy {
  /**
   * Restart the group when a rank dies. When `false` the runner goes to `failed` and every
   * request fails with GROUP_UNAVAILABLE until `ensureAlive()` starts it again.
   * @default true
   */
  readonly enabled?: boolean;
  /** Delay before the first restart after a failure, in ms. @default 100 */
  readonly initialDelay?: number;
  /** Longest delay between restarts, in ms. @default 10000 */
  readonly maxDelay?: number;
  /** Factor the delay grows by with each consecutive failure. @default 2 */
  readonly factor?: number;
  /** Consecutive failed restarts before giving up (the runner goes to `failed`). @default 5 */
  readonly maxAttempts?: number;
}

/** Options of {@link DistributedRunner}. */
export interface DistributedRunnerOptions {
  /** The worker module (`.ts` or `.js`), whose default export extends `DistributedWorker`. */
  readonly worker: URL | string;
  /** Number of ranks (processes). @default 1 */
  readonly worldSize?: number;
  /** Working directory of the rank processes. @default process.cwd() */
  readonly cwd?: string;
  /** Extra environment variables for the ranks, on top of this process's. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * GPU ids, one per rank (rank i gets `gpus[i]` as its only visible device). `[]` runs on CPU.
   * @default "auto": from `CUDA_VISIBLE_DEVICES`, else `nvidia-smi -L`, else CPU
   */
  readonly gpus?: readonly (string | number)[] | "auto";
  /**
   * Address of the ranks' rendezvous store (`MASTER_ADDR`), which the runner hosts for each group.
   * @default "127.0.0.1"
   */
  readonly masterAddr?: string;
  /** Port of the rendezvous store (`MASTER_PORT`). @default a free port, new for each group */
  readonly masterPort?: number;
  /** A payload invoked every `interval` ms while the runner is idle, as fal's keepalive. */
  readonly keepalive?: { readonly payload: unknown; readonly interval: number };
  /**
   * Forward streaming results added on every rank, as `{ rank, result }`, instead of only rank 0's.
   * @default false
   */
  readonly streamAllRanks?: boolean;
  /**
   * How long each collective of the workers' `this.dist` may wait for the other ranks, in ms,
   * unless the call passes its own `timeout`. On expiry every waiting rank fails with
   * COLLECTIVE_TIMEOUT naming the ranks that did not arrive.
   * @default 300_000
   */
  readonly collectiveTimeout?: number;
  /** Restart policy after a rank dies; `false` turns restarts off. @default {} (on) */
  readonly restart?: RestartPolicy | false;
  /**
   * How long ranks get to finish a cancelled request before the group is restarted, in ms.
   * @default 5000
   */
  readonly cancelGracePeriod?: number;
  /** Results buffered for a consumer before the rank is paused (backpressure). @default 1024 */
  readonly highWaterMark?: number;
  /** Bytes of unsent results a rank may hold before `addStreamingResult` throws. @default 64 MiB */
  readonly maxPendingBytes?: number;
  /**
   * Where the runner logs. @default the server's logger for a runner made while `serve()` makes
   * the app or runs its `setup()`; else pino to stderr, level `TROUPE_LOG_LEVEL` or "info"
   */
  readonly logger?: Logger;
}

export interface ResolvedRunnerOptions {
  readonly workerUrl: string;
  readonly worldSize: number;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly gpus: readonly string[] | "auto";
  readonly masterAddr: string;
  readonly masterPort: number | undefined;
  readonly keepalive: { readonly payload: unknown; readonly interval: number } | undefined;
  readonly streamAllRanks: boolean;
  readonly restart: Required<RestartPolicy>;
  readonly cancelGracePeriod: number;
  readonly highWaterMark: number;
  readonly maxPendingBytes: number;
  readonly collectiveTimeout: number;
  readonly logger: Logger | undefined;
}

/** Validates the constructor's options, naming the first bad value. */
export function resolveRunnerOptions(options: DistributedRunnerOptions): ResolvedRunnerOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`Expected options to be an object, got ${show(options)}`);
  }
  const cwd = options.cwd ?? process.cwd();
  const workerUrl = resolveWorker(options.worker, cwd);
  const worldSize = options.worldSize ?? 1;
  positiveInt("worldSize", worldSize);
  const gpus = resolveGpus(options.gpus, worldSize);
  const masterPort = options.masterPort;
  if (
    masterPort !== undefined &&
    (!Number.isInteger(masterPort) || masterPort < 1 || masterPort > 65535)
  ) {
    throw new InvalidArgumentError(
      `Expected \`masterPort\` to be a port number (1-65535), got ${show(masterPort)}`,
    );
  }
  const keepalive = options.keepalive;
  if (keepalive !== undefined) {
    if (keepalive === null || typeof keepalive !== "object") {
      throw new InvalidArgumentError(
        `Expected \`keepalive\` to be { payload, interval }, got ${show(keepalive)}`,
      );
    }
    positiveInt("keepalive.interval", keepalive.interval);
    assertSendable(keepalive.payload, "keepalive.payload");
  }
  if (options.streamAllRanks !== undefined && typeof options.streamAllRanks !== "boolean") {
    throw new InvalidArgumentError(
      `Expected \`streamAllRanks\` to be a boolean, got ${show(options.streamAllRanks)}`,
    );
  }
  if (
    options.restart !== undefined &&
    options.restart !== false &&
    (options.restart === null || typeof options.restart !== "object")
  ) {
    throw new InvalidArgumentError(
      `Expected \`restart\` to be false or a restart policy object, got ${show(options.restart)}`,
    );
  }
  const restart = options.restart === false ? { enabled: false } : (options.restart ?? {});
  const resolvedRestart: Required<RestartPolicy> = {
    enabled: restart.enabled ?? true,
    initialDelay: restart.initialDelay ?? 100,
    maxDelay: restart.maxDelay ?? 10_000,
    factor: restart.factor ?? 2,
    maxAttempts: restart.maxAttempts ?? 5,
  };
  nonNegative("restart.initialDelay", resolvedRestart.initialDelay);
  nonNegative("restart.maxDelay", resolvedRestart.maxDelay);
  if (!(resolvedRestart.factor >= 1)) {
    throw new InvalidArgumentError(
      `Expected \`restart.factor\` to be at least 1, got ${show(resolvedRestart.factor)}`,
    );
  }
  positiveInt("restart.maxAttempts", resolvedRestart.maxAttempts, true);
  const cancelGracePeriod = options.cancelGracePeriod ?? 5000;
  nonNegative("cancelGracePeriod", cancelGracePeriod);
  const highWaterMark = options.highWaterMark ?? 1024;
  positiveInt("highWaterMark", highWaterMark);
  const maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
  positiveInt("maxPendingBytes", maxPendingBytes);
  const collectiveTimeout = options.collectiveTimeout ?? 300_000;
  positiveInt("collectiveTimeout", collectiveTimeout);
  return {
    workerUrl,
    worldSize,
    cwd,
    env: resolveEnv(options.env),
    gpus,
    masterAddr: options.masterAddr ?? "127.0.0.1",
    masterPort,
    keepalive,
    streamAllRanks: options.streamAllRanks ?? false,
    restart: resolvedRestart,
    cancelGracePeriod,
    highWaterMark,
    maxPendingBytes,
    collectiveTimeout,
    logger: options.logger,
  };
}

/**
 * A copy of `env`, checked as a process's environment must be: a NUL byte in a name or value
 * would make starting a rank throw, after the ranks before it were started.
 */
function resolveEnv(
  env: DistributedRunnerOptions["env"],
): Readonly<Record<string, string | undefined>> {
  if (env === undefined) return {};
  if (env === null || typeof env !== "object") {
    throw new InvalidArgumentError(`Expected \`env\` to be an object, got ${show(env)}`);
  }
  for (const [name, value] of Object.entries(env)) {
    if (name === "" || name.includes("=") || name.includes("\0")) {
      throw new InvalidArgumentError(
        `Expected \`env\` to hold environment variable names, got ${show(name)}`,
      );
    }
    if (value !== undefined && (typeof value !== "string" || value.includes("\0"))) {
      throw new InvalidArgumentError(
        `Expected \`env.${name}\` to be a string without NUL bytes (or undefined), got ${show(value)}`,
      );
    }
  }
  return { ...env };
}

function resolveWorker(worker: URL | string | undefined, cwd: string): string {
  let url: URL;
  if (worker instanceof URL) {
    url = worker;
  } else if (typeof worker === "string" && worker !== "") {
    url = worker.startsWith("file:")
      ? new URL(worker)
      : pathToFileURL(isAbsolute(worker) ? worker : resolve(cwd, worker));
  } else {
    throw new InvalidArgumentError(
      `Expected \`worker\` to be a file URL or path of a worker module, got ${show(worker)}`,
    );
  }
  if (url.protocol !== "file:") {
    throw new InvalidArgumentError(`Expected \`worker\` to be a file: URL, got ${url.href}`);
  }
  const path = fileURLToPath(url);
  if (!existsSync(path)) {
    throw new InvalidWorkerError(`The worker module ${path} does not exist`);
  }
  return url.href;
}

function resolveGpus(
  gpus: DistributedRunnerOptions["gpus"],
  worldSize: number,
): readonly string[] | "auto" {
  if (gpus === undefined || gpus === "auto") return "auto";
  if (!Array.isArray(gpus)) {
    throw new InvalidArgumentError(
      `Expected \`gpus\` to be "auto" or an array of device ids, got ${show(gpus)}`,
    );
  }
  const ids = gpus.map((id, i) => {
    if (
      (typeof id === "number" && Number.isInteger(id) && id >= 0) ||
      (typeof id === "string" && id !== "" && !id.includes("\0"))
    ) {
      return String(id);
    }
    throw new InvalidArgumentError(`Expected \`gpus[${i}]\` to be a device id, got ${show(id)}`);
  });
  if (ids.length > 0 && ids.length < worldSize) {
    throw new InvalidArgumentError(
      `Expected at least ${worldSize} GPUs for worldSize ${worldSize}, got ${ids.length} in \`gpus\` (${ids.join(", ")}); pass gpus: [] to run on CPU`,
    );
  }
  return ids;
}

function positiveInt(name: string, value: unknown, allowInfinity = false): void {
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a positive integer, got ${show(value)}`,
    );
  }
}

export function nonNegative(name: string, value: unknown): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a non-negative number, got ${show(value)}`,
    );
  }
}

/** A value as it should appear in an error message. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
