import { OCR_PLAN, PLAN } from "./plan.ts";
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
  return [
    `start(): ${PLAN.starts} fresh runners one after another, each timed from \`start()\` to its resolve, then stopped. Pass is judged on p50. The compiled rows' ranks ran \`${repoRelative(compiled.probe.module)}\` with execArgv ${JSON.stringify(compiled.probe.execArgv.map(repoRelative))} (no TypeScript loader); the .ts row's ranks ran \`${repoRelative(typescript.probe.module)}\` with ${JSON.stringify(typescript.probe.execArgv.map(repoRelative))}.`,
    `invoke(): 200 warm-up calls, then ${PLAN.invokes} sequential calls of \`{ i }\`, each timed from the call to its resolve.`,
    `Result latency: rank 0 stamps the machine's monotonic clock (\`process.hrtime\`, CLOCK_MONOTONIC: the same clock in every process, so no offset to estimate) into each of ${PLAN.paced.count} results, one every ${PLAN.paced.intervalMs} ms (setTimeout pacing), just before \`addStreamingResult\`; the consumer iterates in object mode and subtracts the stamp from the clock on receipt. ${PLAN.paced.blocks} such blocks, each followed by a block of the floor's stamps at the same pacing, so that both figures come from the same stretch of the machine's time; each pools its blocks (${latency.received} results received). Every other cross-process figure (cancel, SSE latency, disconnect, the gather step) uses the same clock.`,
    `Back-to-back: rank 0 adds ${PLAN.burst.count.toLocaleString("en-US")} results \`{ i }\` in one synchronous loop (not awaiting) and returns; the consumer checks that i goes up by exactly 1 and counts from its first \`next()\` to the final result, after one unreported warm-up run. Runs: ${throughput.map((run) => formatRate(run.perSecond)).join(", ")}. Pass is judged on the median.`,
    `Cancel: a streamed request that every rank holds (after each streamed \`{ ready }\`) is aborted through its signal; each rank records when its \`ctx.signal\` fired and streams it in the next request (\`streamAllRanks: true\`). Per rank p50: ${cancel.perRank.map((summary, rank) => `rank ${rank} ${formatMs(summary.p50)}`).join(", ")}; the consumer's pending \`next()\` rejected after ${formatMs(cancel.consumer.p50)} p50.`,
    "Floor rows (↳): the same exchange between bare Node processes over the same kind of channel (a connected Unix socket on the child's fd 3, which the parent reads with `onread` into one buffer, as troupe's runner does), without troupe's framing, encoding or queue: the best this machine allows.",
    `OCR service: three runners of examples/ocr-service/worker.ts (its .ts through tsx): world size 1 and 2 with one intra-op thread per rank, and world size 1 with onnxruntime's default threads. Each is warmed with a 4-line page and then the timed page (onnxruntime plans its memory per input shape). The timed page is ${OCR_PLAN.lines} lines of DejaVu Sans at 16, 20 and 24 px drawn by sharp, 900 px wide, a PNG of about 268 KB. ${OCR_PLAN.repeats} pairs run, world sizes 1 and 2 in alternating order, each pair followed by the default-threads runner; each request is a \`runner.stream()\` consumed in the bench's process. In the first-line row, "detection" is rank 0's time from decoding the page to holding every band's boxes (its own band and the gathered others'), and "that line's recognition" is its rank's time to crop and read it; what is over them is the input's way to the ranks, the reading order and the scatter, and the line's way to the consumer.`,
    "The machine is shared: other processes (tests) may have run at the same time; see the load average.",
  ];
}

/** A file URL or path inside the repository, written relative to its root. */
function repoRelative(value: string): string {
  const root = new URL("../", import.meta.url).href;
  const rootPath = new URL("../", import.meta.url).pathname;
  return value.replace(root, "").replace(rootPath, "");
}
