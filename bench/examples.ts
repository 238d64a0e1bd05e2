/**
 * Benchmarks of the parallel-preview example (examples/parallel-preview): the variations mode's
 * speed-up from one rank to two on the same total work, and the cost of its preview step
 * (gather to rank 0, average, JPEG, stream, barrier).
 *
 * `npx tsx bench/examples.ts` prints the rows; `benchExamples()` returns them. The ranks load the
 * example's TypeScript with tsx (both world sizes alike), not the compiled build.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type GatherStepWorker from "../examples/parallel-preview/gather-step-worker.ts";
import { monotonicMs } from "../examples/parallel-preview/gather-step-worker.ts";
import type ParallelPreviewWorker from "../examples/parallel-preview/worker.ts";
import type { GenerateInput } from "../examples/parallel-preview/worker.ts";
import { DistributedRunner } from "../src/index.ts";
import { renderTable } from "./report.ts";
import { formatMs, median, summarize } from "./stats.ts";
import type { Row } from "./targets.ts";

const TARGET = { speedUp: 1.7, stepMs: 5 } as const;
const PEER_STEP = "15.2 ms per step";

const EXAMPLE = new URL("../examples/parallel-preview/", import.meta.url);

/** The same total work at both world sizes: 4 variations, 30 steps, a preview every 5. */
const VARIATIONS: GenerateInput = {
  prompt: "A sunset over the sea",
  seed: 42,
  steps: 30,
  size: 256,
  mode: "variations",
  variations: 4,
};
const REPEATS = 4;
const GATHER_STEPS = 200;

/** The rows of the example's benchmarks. */
export async function benchExamples(): Promise<Row[]> {
  const speedUp = await benchSpeedUp();
  const step = await benchGatherStep();
  return [
    {
      figure: `variations example, world size 2 vs 1 (${VARIATIONS.variations} × ${VARIATIONS.size}² pictures, ${VARIATIONS.steps} steps, streamed; median of ${REPEATS} pairs; .ts workers via tsx)`,
      troupe: `${speedUp.ratio.toFixed(2)}× (${formatMs(speedUp.one)} → ${formatMs(speedUp.two)})`,
      target: `≥ ${TARGET.speedUp}×`,
      pass: speedUp.ratio >= TARGET.speedUp,
    },
    {
      figure:
        "↳ same runs, CPU time of the busiest rank, world size 1 vs 2 (the speed-up on cores no other process wants; informative)",
      troupe: `${speedUp.cpuRatio.toFixed(2)}×`,
      target: "—",
    },
    {
      figure: `gather + preview step, 2 ranks: each gathers 3×256×256 float32 to rank 0, which averages, encodes a JPEG at quality 60 and streams it; barrier (${step.received.n} steps; .ts worker via tsx)`,
      troupe: `${formatMs(step.received.p50)} p50, ${formatMs(step.received.p99)} p99 to the consumer; ${formatMs(step.barrier.p50)} p50 to the barrier`,
      peer: PEER_STEP,
      target: `≤ ${TARGET.stepMs} ms p50`,
      pass: step.received.p50 <= TARGET.stepMs,
    },
  ];
}

/**
 * Wall time of one streamed request of {@link VARIATIONS} at world size 1 and 2, consumed to its
 * final result. Each repeat times both back to back (in alternating order), so load from
 * elsewhere falls on both alike; the figure is the median of the repeats' ratios.
 */
async function benchSpeedUp() {
  const worker = new URL("worker.ts", EXAMPLE);
  await using one = new DistributedRunner<ParallelPreviewWorker>({
    worker,
    worldSize: 1,
    gpus: [],
  });
  await using two = new DistributedRunner<ParallelPreviewWorker>({
    worker,
    worldSize: 2,
    gpus: [],
  });
  await Promise.all([one.start(), two.start()]);
  const warmUp = { ...VARIATIONS, steps: 6, size: 32 };
  await Promise.all([one.invoke(warmUp), two.invoke(warmUp)]);
  const ones: Run[] = [];
  const twos: Run[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    if (repeat % 2 === 0) {
      ones.push(await timeRun(one));
      twos.push(await timeRun(two));
    } else {
      twos.push(await timeRun(two));
      ones.push(await timeRun(one));
    }
  }
  const pairs = ones.map((run, i) => [run, twos[i] as Run] as const);
  return {
    one: median(ones.map((run) => run.wallMs)),
    two: median(twos.map((run) => run.wallMs)),
    ratio: median(pairs.map(([a, b]) => a.wallMs / b.wallMs)),
    cpuRatio: median(pairs.map(([a, b]) => a.busiestCpuMs / b.busiestCpuMs)),
  };
}

interface Run {
  readonly wallMs: number;
  /** CPU time of the rank that used the most, from /proc: what the wall time would be on idle cores. */
  readonly busiestCpuMs: number;
}

/** One streamed request of {@link VARIATIONS}, consumed as a client would, to its final grid. */
async function timeRun(runner: DistributedRunner<ParallelPreviewWorker>): Promise<Run> {
  const pids = runner.ranks.map((rank) => rank.pid as number);
  const cpu0 = await Promise.all(pids.map(cpuMsOf));
  const t0 = performance.now();
  for await (const _ of runner.stream(VARIATIONS)) {
    // Every progress event, preview and the final grid.
  }
  const wallMs = performance.now() - t0;
  const cpu1 = await Promise.all(pids.map(cpuMsOf));
  return { wallMs, busiestCpuMs: Math.max(...cpu1.map((ms, i) => ms - (cpu0[i] as number))) };
}

/** User + system CPU time of process `pid` in ms (Linux: /proc/<pid>/stat, in clock ticks of 10 ms). */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces: utime is the 12th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Per preview step: from rank 0 starting the gather to the consumer holding the streamed JPEG
 * (both on the monotonic clock every process shares); and rank 0's own gather-to-barrier time. Steps are 20 ms
 * apart (the rendering between previews), so each is measured on its own.
 */
async function benchGatherStep() {
  await using runner = new DistributedRunner<GatherStepWorker>({
    worker: new URL("gather-step-worker.ts", EXAMPLE),
    worldSize: 2,
    gpus: [],
  });
  await runner.start();
  await runner.invoke({ op: "steps", steps: 20 }); // warm-up: JIT, shared memory, sharp
  const received: number[] = [];
  const stream = runner.stream({ op: "steps", steps: GATHER_STEPS });
  for await (const item of stream) {
    const now = monotonicMs();
    if (typeof item === "object" && item !== null && "started" in item) {
      received.push(now - item.started);
    }
  }
  const barrier = await stream.done();
  return { received: summarize(received), barrier: summarize(barrier) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${renderTable(await benchExamples())}\n`);
}
