import { PLAN } from "./plan.ts";
import type { CancelFigures, LatencyFigures, StartFigures, ThroughputRun } from "./runner.ts";
import { formatMs, formatRate } from "./stats.ts";

export interface Figures {
  readonly compiled: StartFigures;
  readonly typescript: StartFigures;
  readonly latency: LatencyFigures;
  readonly throughput: readonly ThroughputRun[];
  readonly cancel: CancelFigures;
}

/** How each figure was taken, with the numbers behind it that the table leaves out. */
export function methodNotes(figures: Figures): string[] {
  const { compiled, typescript, latency, throughput, cancel } = figures;
  const { offset, uncertainty } = latency.clockOffset;
  return [
    `start(): ${PLAN.starts} fresh runners one after another, each timed from \`start()\` to its resolve, then stopped. Pass is judged on p50. The compiled rows' ranks ran \`${repoRelative(compiled.probe.module)}\` with execArgv ${JSON.stringify(compiled.probe.execArgv.map(repoRelative))} (no TypeScript loader); the .ts row's ranks ran \`${repoRelative(typescript.probe.module)}\` with ${JSON.stringify(typescript.probe.execArgv.map(repoRelative))}.`,
    `invoke(): 200 warm-up calls, then ${PLAN.invokes} sequential calls of \`{ i }\`, each timed from the call to its resolve.`,
    `Result latency: rank 0 stamps \`performance.timeOrigin + performance.now()\` into each of ${PLAN.paced.count} results, one every ${PLAN.paced.intervalMs} ms (setTimeout pacing); the consumer iterates in object mode and subtracts the stamp from its own clock on receipt. Each process reads the system clock once when it starts (µs precision) and adds its monotonic clock, so the two agree unless the system clock was stepped between the starts. Measured offset of rank 0's clock from the consumer's: ${formatMs(offset)} ± ${formatMs(uncertainty)} (the invoke with the shortest of 200 round trips); not subtracted.`,
    `Back-to-back: rank 0 adds ${PLAN.burst.count.toLocaleString("en-US")} results \`{ i }\` in one synchronous loop (not awaiting) and returns; the consumer checks that i goes up by exactly 1 and counts from its first \`next()\` to the final result, after one unreported warm-up run. Runs: ${throughput.map((run) => formatRate(run.perSecond)).join(", ")}. Pass is judged on the median.`,
    `Cancel: a streamed request that every rank holds (after each streamed \`{ ready }\`) is aborted through its signal; each rank records when its \`ctx.signal\` fired and streams it in the next request (\`streamAllRanks: true\`). Per rank p50: ${cancel.perRank.map((summary, rank) => `rank ${rank} ${formatMs(summary.p50)}`).join(", ")}; the consumer's pending \`next()\` rejected after ${formatMs(cancel.consumer.p50)} p50.`,
    "Floor rows (↳): the same exchange between bare Node processes over the same kind of channel (a socket pair on fd 3), without troupe's framing, encoding, queue or streams: the best this machine allows.",
    "The machine is shared: other processes (tests) may have run at the same time; see the load average.",
  ];
}

/** A file URL or path inside the repository, written relative to its root. */
function repoRelative(value: string): string {
  const root = new URL("../", import.meta.url).href;
  const rootPath = new URL("../", import.meta.url).pathname;
  return value.replace(root, "").replace(rootPath, "");
}
