import type * as Troupe from "../src/index.ts";
import { type Summary, summarize } from "./stats.ts";
import { monotonicMs } from "./workers/clock.ts";
import type EchoWorker from "./workers/echo.ts";
import type { LoaderProbe } from "./workers/echo.ts";
import type StreamWorker from "./workers/stream.ts";
import type { StreamResult } from "./workers/stream.ts";

/** The compiled package's exports (`dist/index.js`). */
export type Api = typeof Troupe;

export const WORLD_SIZE = 2;
/** CPU ranks: GPU detection is not what these figures measure. */
const BASE = { worldSize: WORLD_SIZE, gpus: [] } as const;

/** Loads the build the benchmarks exercise: `dist/index.js`, not the TypeScript source. */
export async function loadCompiled(): Promise<Api> {
  return (await import(new URL("../dist/index.js", import.meta.url).href)) as Api;
}

export interface StartFigures {
  readonly start: Summary;
  readonly stop: Summary;
  /** The first runner's constructor, which decides how ranks load the worker (later ones reuse it). */
  readonly firstConstructMs: number;
  readonly probe: LoaderProbe;
}

/**
 * Figure 1: `start()` of `runs` fresh runners per worker with a trivial setup, each stopped after.
 * The workers take turns, one runner each, so their figures come from the same stretch of the
 * machine's time (a shared one drifts by more than they differ).
 */
export async function benchStart(
  api: Api,
  workers: readonly URL[],
  runs: number,
): Promise<StartFigures[]> {
  const samples = workers.map(() => ({
    starts: [] as number[],
    stops: [] as number[],
    firstConstructMs: Number.NaN,
    probe: undefined as LoaderProbe | undefined,
  }));
  for (let run = 0; run < runs; run++) {
    for (const [i, worker] of workers.entries()) {
      const sample = samples[i] as (typeof samples)[number];
      const t0 = performance.now();
      const runner = new api.DistributedRunner<EchoWorker>({ ...BASE, worker });
      if (run === 0) sample.firstConstructMs = performance.now() - t0;
      try {
        const t1 = performance.now();
        await runner.start({ setup: { label: "trivial" } });
        sample.starts.push(performance.now() - t1);
        sample.probe ??= (await runner.invoke("probe")) as LoaderProbe;
      } finally {
        const t2 = performance.now();
        await runner.stop();
        sample.stops.push(performance.now() - t2);
      }
    }
  }
  return samples.map(({ starts, stops, firstConstructMs, probe }) => ({
    start: summarize(starts),
    stop: summarize(stops),
    firstConstructMs,
    probe: probe as LoaderProbe,
  }));
}

/** Figure 2: sequential `invoke()` round trips to an echo worker, after a warm-up. */
export async function benchInvoke(api: Api, worker: URL, count: number): Promise<Summary> {
  await using runner = new api.DistributedRunner<EchoWorker>({ ...BASE, worker });
  await runner.start();
  for (let i = 0; i < 200; i++) await runner.invoke({ i });
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await runner.invoke({ i });
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export interface LatencyFigures {
  readonly latency: Summary;
  readonly received: number;
  /** The floor's one-way latency, measured in the blocks between troupe's. */
  readonly floor: Summary;
}

/**
 * Figure 3: from `addStreamingResult` on rank 0 to the consumer, results `intervalMs` apart, in
 * `blocks` blocks of `count`. After each block `floorBlock` measures the floor the same way, so
 * the two see the same machine (a shared one drifts by more than troupe's margin in a minute);
 * each figure pools its blocks.
 */
export async function benchLatency(
  api: Api,
  worker: URL,
  { count, intervalMs, blocks }: { count: number; intervalMs: number; blocks: number },
  floorBlock: () => Promise<number[]>,
): Promise<LatencyFigures> {
  await using runner = new api.DistributedRunner<StreamWorker>({ ...BASE, worker });
  await runner.start();
  const samples: number[] = [];
  const floor: number[] = [];
  for (let block = 0; block < blocks; block++) {
    for await (const item of runner.stream({ op: "paced", count, intervalMs })) {
      const now = monotonicMs();
      if (isStamped(item)) samples.push(now - item.sent);
    }
    floor.push(...(await floorBlock()));
  }
  return { latency: summarize(samples), received: samples.length, floor: summarize(floor) };
}

export interface ThroughputRun {
  readonly perSecond: number;
  readonly received: number;
  readonly lost: number;
  /** Results whose `i` was not the previous one's plus one (reordered or duplicated). */
  readonly outOfOrder: number;
}

/** Figure 4: `count` results added back-to-back by rank 0, delivered per second, `repeats` times after a warm-up. */
export async function benchThroughput(
  api: Api,
  worker: URL,
  count: number,
  repeats: number,
): Promise<ThroughputRun[]> {
  await using runner = new api.DistributedRunner<StreamWorker>({ ...BASE, worker });
  await runner.start();
  const runs: ThroughputRun[] = [];
  // One run more than reported: the first warms up the JIT on both sides.
  for (let repeat = -1; repeat < repeats; repeat++) {
    const stream = runner.stream({ op: "burst", count });
    let received = 0;
    let outOfOrder = 0;
    let next = 0;
    const t0 = performance.now();
    for await (const item of stream) {
      const i = (item as { i?: unknown }).i;
      if (typeof i !== "number") continue;
      if (i !== next) outOfOrder++;
      next = i + 1;
      received++;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (repeat < 0) continue;
    runs.push({ perSecond: received / seconds, received, lost: count - received, outOfOrder });
  }
  return runs;
}

export interface CancelFigures {
  /** Per cancel, until the signal fired in the last rank. */
  readonly everyRank: Summary;
  /** Per cancel and rank. */
  readonly perRank: readonly Summary[];
  /** Per cancel, until the consumer's pending `next()` rejected. */
  readonly consumer: Summary;
}

/** Extra figure: from aborting a running streamed request until `ctx.signal` fired on every rank. */
export async function benchCancel(api: Api, worker: URL, cancels: number): Promise<CancelFigures> {
  await using runner = new api.DistributedRunner<StreamWorker>({
    ...BASE,
    worker,
    streamAllRanks: true,
  });
  await runner.start();
  const everyRank: number[] = [];
  const consumer: number[] = [];
  const perRank: number[][] = Array.from({ length: WORLD_SIZE }, () => []);
  for (let run = 0; run < cancels; run++) {
    const controller = new AbortController();
    const held = runner.stream({ op: "hold" }, { signal: controller.signal });
    const iterator = held[Symbol.asyncIterator]();
    for (let ready = 0; ready < WORLD_SIZE; ready++) await iterator.next();
    const abortedAt = monotonicMs();
    controller.abort();
    await iterator.next().then(
      () => {
        throw new Error("The cancelled stream yielded instead of rejecting");
      },
      () => consumer.push(monotonicMs() - abortedAt),
    );
    let latest = Number.NEGATIVE_INFINITY;
    for await (const item of runner.stream({ op: "lastAbort" })) {
      if (!isRankResult(item) || !("abortedAt" in item.result)) continue;
      const { rank, result } = item;
      if (result.abortedAt === undefined) throw new Error(`Rank ${rank} never saw its signal fire`);
      perRank[rank]?.push(result.abortedAt - abortedAt);
      latest = Math.max(latest, result.abortedAt - abortedAt);
    }
    everyRank.push(latest);
  }
  return {
    everyRank: summarize(everyRank),
    perRank: perRank.map(summarize),
    consumer: summarize(consumer),
  };
}

/** With `streamAllRanks` results arrive as `{ rank, result }`; the final value as it is. */
function isRankResult(item: unknown): item is Troupe.RankResult<StreamResult> {
  return typeof item === "object" && item !== null && "rank" in item && "result" in item;
}

/** A paced result (the final value has no `i`). */
function isStamped(item: unknown): item is { readonly i: number; readonly sent: number } {
  return typeof item === "object" && item !== null && "i" in item && "sent" in item;
}
