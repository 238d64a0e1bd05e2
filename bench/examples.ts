/**
 * Benchmarks of the parallel-preview example (examples/parallel-preview): the variations mode's
 * speed-up from one rank to two on the same total work, and the cost of its preview step
 * (gather to rank 0, average, JPEG, stream, barrier).
 *
 * `npx tsx bench/examples.ts` prints the rows; `benchExamples()` returns them. The ranks load the
 * example's TypeScript with tsx (both world sizes alike), not the compiled build.
 */
import { fileURLToPath } from "node:url";
import type GatherStepWorker from "../examples/parallel-preview/gather-step-worker.ts";
import { wallClock } from "../examples/parallel-preview/gather-step-worker.ts";
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
  size: 128,
  mode: "variations",
  variations: 4,
};
const REPEATS = 3;
const GATHER_STEPS = 200;

/** The rows of the example's benchmarks. */
export async function benchExamples(): Promise<Row[]> {
  const speedUp = await benchSpeedUp();
  const step = await benchGatherStep();
  return [
    {
      figure: `variations example, world size 2 vs 1 (${VARIATIONS.variations} × ${VARIATIONS.size}² pictures, ${VARIATIONS.steps} steps, streamed; median of ${REPEATS})`,
      troupe: `${speedUp.ratio.toFixed(2)}× (${formatMs(speedUp.one)} → ${formatMs(speedUp.two)})`,
      target: `≥ ${TARGET.speedUp}×`,
      pass: speedUp.ratio >= TARGET.speedUp,
    },
    {
      figure: `gather + preview step, 2 ranks: each gathers 3×256×256 float32 to rank 0, which averages, encodes a JPEG at quality 60 and streams it; barrier (${step.received.n} steps)`,
      troupe: `${formatMs(step.received.p50)} p50, ${formatMs(step.received.p99)} p99 to the consumer; ${formatMs(step.barrier.p50)} p50 to the barrier`,
      peer: PEER_STEP,
      target: `≤ ${TARGET.stepMs} ms p50`,
      pass: step.received.p50 <= TARGET.stepMs,
    },
  ];
}

/**
 * Wall time of one streamed request of {@link VARIATIONS} at world size 1 and 2, consumed to its
 * final result, runs alternating so that load from elsewhere falls on both alike.
 */
async function benchSpeedUp(): Promise<{ one: number; two: number; ratio: number }> {
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
  const times: [number[], number[]] = [[], []];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const [i, runner] of [one, two].entries()) {
      const t0 = performance.now();
      for await (const _ of runner.stream(VARIATIONS)) {
        // Consumed like a client would: every progress event, preview and the final grid.
      }
      times[i]?.push(performance.now() - t0);
    }
  }
  const [oneMs, twoMs] = times.map(median) as [number, number];
  return { one: oneMs, two: twoMs, ratio: oneMs / twoMs };
}

/**
 * Per preview step: from rank 0 starting the gather to the consumer holding the streamed JPEG,
 * corrected by rank 0's clock offset; and rank 0's own gather-to-barrier time. Steps are 20 ms
 * apart (the rendering between previews), so each is measured on its own.
 */
async function benchGatherStep() {
  await using runner = new DistributedRunner<GatherStepWorker>({
    worker: new URL("gather-step-worker.ts", EXAMPLE),
    worldSize: 2,
    gpus: [],
  });
  await runner.start();
  // Rank 0's clock minus ours, from the invoke with the shortest round trip.
  let offset = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 100; i++) {
    const t0 = wallClock();
    const remote = (await runner.invoke({ op: "clock" })) as number;
    const t1 = wallClock();
    if (t1 - t0 < best) [best, offset] = [t1 - t0, remote - (t0 + t1) / 2];
  }
  await runner.invoke({ op: "steps", steps: 20 }); // warm-up: JIT, shared memory, sharp
  const received: number[] = [];
  const stream = runner.stream({ op: "steps", steps: GATHER_STEPS });
  for await (const item of stream) {
    const now = wallClock();
    if (typeof item === "object" && item !== null && "started" in item) {
      received.push(now + offset - item.started);
    }
  }
  const barrier = (await stream.done()) as readonly number[];
  return { received: summarize(received), barrier: summarize(barrier) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${renderTable(await benchExamples())}\n`);
}
