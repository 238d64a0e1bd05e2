import type { ProcessGroup } from "../../src/collectives/index.ts";

export interface Measurement {
  readonly name: string;
  /** Median milliseconds per operation. */
  readonly p50: number;
}

type Measure = (
  name: string,
  iterations: number,
  run: () => Promise<unknown>,
) => Promise<Measurement>;

const MiB = 1 << 20;

/** The five figures of the benchmark, in order; `bench/collectives/torch_collectives.py` mirrors them. */
export async function measureFigures(
  measure: Measure,
  group: ProcessGroup,
): Promise<Measurement[]> {
  const small = new Float32Array(MiB / 4).fill(1);
  const large = new Float32Array((64 * MiB) / 4).fill(1);
  const out: Measurement[] = [];
  for (let i = 0; i < 200; i++) await group.barrier();
  out.push(await measure("barrier", 2000, () => group.barrier()));
  await measure("warmup", 20, () => group.allReduce(small));
  out.push(await measure("allReduce sum, 1 MiB", 300, () => group.allReduce(small)));
  await measure("warmup", 3, () => group.allReduce(large));
  out.push(await measure("allReduce sum, 64 MiB", 20, () => group.allReduce(large)));
  // Into preallocated arrays, as torch's gather does into its gather_list.
  const into = group.rank === 0 ? [0, 1].map(() => new Float32Array(large.length)) : undefined;
  const gather = () => group.gather(large, { dst: 0, ...(into ? { out: into } : {}) });
  await measure("warmup", 3, gather);
  out.push(await measure("gather to rank 0, 64 MiB per rank", 20, gather));
  await measure("warmup", 3, () => group.broadcast(large, { src: 0 }));
  out.push(await measure("broadcast, 64 MiB", 20, () => group.broadcast(large, { src: 0 })));
  // The same gather returning new arrays: most of its time goes to the kernel faulting in fresh
  // pages (about 30 ms per 64 MiB on this machine), not to moving data.
  out.push(
    await measure("gather to rank 0, 64 MiB per rank, new arrays", 10, () =>
      group.gather(large, { dst: 0 }),
    ),
  );
  return out;
}
