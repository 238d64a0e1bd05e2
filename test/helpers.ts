import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { DistributedRunner, type DistributedRunnerOptions, type Logger } from "../src/index.ts";
import type ScenarioWorker from "./fixtures/scenario-worker.ts";

export const scenarioWorker = new URL("./fixtures/scenario-worker.ts", import.meta.url);
export const streamingWorker = new URL("./fixtures/streaming-worker.ts", import.meta.url);

export interface LogRecord {
  readonly level: string;
  readonly obj: object;
  readonly msg: string | undefined;
}

/** A logger that keeps what it is given, for assertions. */
export function recordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      records.push({ level, obj, msg });
    };
  return { records, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A runner of the scenario worker with a recording logger. */
export function scenarioRunner(
  options: Partial<DistributedRunnerOptions> = {},
): DistributedRunner<ScenarioWorker> & { logs: LogRecord[] } {
  const logger = recordingLogger();
  const runner = new DistributedRunner<ScenarioWorker>({
    worker: scenarioWorker,
    worldSize: 2,
    gpus: [],
    logger,
    ...options,
  });
  return Object.assign(runner, { logs: logger.records });
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "troupe-test-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** `true` while `pid` runs (a zombie waiting for its parent to reap it counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Resolves once `path` exists (a rank in another process writes it to say it got somewhere),
 * woken by the directory's change events; rejects with `failure` if it has not appeared within
 * `within` ms, so a test that waits for a rank that never comes fails with a reason instead of
 * the test's bare timeout. Fixtures write such files with `writeWhole` (fixtures/write-whole.ts),
 * so one that exists can be read in full.
 */
export async function waitForFile(
  path: string,
  failure = "the file never appeared",
  within = 10_000,
): Promise<void> {
  const watcher = watch(dirname(path));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${failure} (no ${path} after ${within} ms)`)),
        within,
      );
      const check = () => {
        if (!existsSync(path)) return;
        clearTimeout(timer);
        resolve();
      };
      watcher.on("change", (_type, name) => {
        if (name === null || String(name) === basename(path)) check();
      });
      watcher.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      // After the watcher is in place, so a file written in between is not missed.
      check();
    });
  } finally {
    watcher.close();
  }
}
