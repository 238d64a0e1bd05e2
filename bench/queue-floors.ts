/**
 * The queue benchmarks' floors, bare ioredis with no troupe: an `XADD` → blocked `XREAD` round
 * trip between two connections, and XADDs pipelined by another process
 * (bench/workers/queue-floor.ts) read by one `XREAD` loop.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { workerUrl } from "./build-workers.ts";
import { cpuOf, since } from "./queue-replicas.ts";
import { monotonicMs } from "./workers/clock.ts";
import type { QueueResult } from "./workers/queue-worker.ts";

export interface BurstRun {
  readonly perSecond: number;
  readonly lost: number;
  readonly outOfOrder: number;
  readonly wallMs: number;
  /** CPU time (ms) each process spent during the run, by role. */
  readonly cpuMs?: Readonly<Record<string, number>>;
}

/** The floor of row 1: `XADD` on one connection → the `XREAD BLOCK` of another returns. */
export async function floorRoundTrips(
  writer: Redis,
  reader: Redis,
  count: number,
): Promise<number[]> {
  const stream = `floor:latency:${Math.random().toString(36).slice(2)}`;
  const samples: number[] = [];
  let last = "0-0";
  for (let i = 0; i < count; i++) {
    const read = reader.xread("BLOCK", 0, "STREAMS", stream, last);
    // Let the read reach Redis and block before the write goes.
    await new Promise((resolve) => setTimeout(resolve, 1));
    const t0 = monotonicMs();
    await Promise.all([writer.xadd(stream, "*", "t", "result", "d", `{"i":${i}}`), read]).then(
      ([, reply]) => {
        samples.push(monotonicMs() - t0);
        last = reply?.[0]?.[1].at(-1)?.[0] ?? last;
      },
    );
  }
  await writer.del(stream);
  return samples;
}

/**
 * The floor of row 2: `count` XADDs pipelined by another process (bench/workers/queue-floor.ts,
 * 512 a pipeline), read by one `XREAD COUNT 512 BLOCK 0` loop here; from the go to the last read.
 */
export async function floorBurst(
  writer: FloorWriter,
  reader: Redis,
  count: number,
  redisPid: number,
): Promise<BurstRun> {
  const stream = `floor:burst:${Math.random().toString(36).slice(2)}`;
  let received = 0;
  let next = 0;
  let outOfOrder = 0;
  const processes = { writer: writer.pid, Redis: redisPid };
  const cpu0 = await cpuOf(processes);
  const t0 = performance.now();
  const written = writer.write(stream);
  let last = "0-0";
  while (received < count) {
    const reply = await reader.xread("COUNT", 512, "BLOCK", 0, "STREAMS", stream, last);
    for (const [entryId, fields] of reply?.[0]?.[1] ?? []) {
      const { i } = JSON.parse(fields[3] as string) as QueueResult;
      if (i !== next) outOfOrder++;
      next = i + 1;
      received++;
      last = entryId;
    }
  }
  const wallMs = performance.now() - t0;
  await written;
  const cpuMs = since(cpu0, await cpuOf(processes));
  await reader.del(stream);
  return {
    perSecond: received / (wallMs / 1000),
    lost: count - received,
    outOfOrder,
    wallMs,
    cpuMs,
  };
}

/** The floor's writer process: `write(stream)` resolves once its XADDs are all answered. */
export interface FloorWriter {
  readonly pid: number;
  write(stream: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the floor's writer process; it connects to `url` and writes `count` XADDs a stream. */
export function startFloorWriter(url: string, count: number): FloorWriter {
  const child = spawn(
    process.execPath,
    [fileURLToPath(workerUrl("queue-floor")), url, String(count)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: (() => void)[] = [];
  lines.on("line", () => waiting.shift()?.());
  return {
    pid: child.pid as number,
    write(stream) {
      const done = new Promise<void>((resolve) => waiting.push(resolve));
      child.stdin?.write(`${stream}\n`);
      return done;
    },
    async stop() {
      const exited = once(child, "exit");
      child.stdin?.end();
      await exited;
    },
  };
}
