/**
 * One rank of the collectives benchmark: `node --import tsx bench/collectives/rank.ts` with RANK,
 * WORLD_SIZE, MASTER_ADDR and MASTER_PORT set. Rank 0 prints one JSON line of p50 timings (ms).
 */
import { initProcessGroup } from "../../src/collectives/index.ts";
import { type Measurement, measureFigures } from "./figures.ts";

const group = await initProcessGroup();
const results: Measurement[] = await measureFigures(async (name, iterations, run) => {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    await group.barrier();
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  if (process.env.TROUPE_BENCH_VERBOSE)
    console.error(group.rank, name, samples.map((s) => s.toFixed(1)).join(" "));
  samples.sort((a, b) => a - b);
  return { name, p50: samples[Math.floor(samples.length / 2)] ?? Number.NaN };
}, group);
if (group.rank === 0) process.stdout.write(`${JSON.stringify(results)}\n`);
await group.destroy();
