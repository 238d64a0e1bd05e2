import { writeFile } from "node:fs/promises";
import { buildWorkers, workerUrl } from "./build-workers.ts";
import { benchExamples } from "./examples.ts";
import { floorLatency, floorRoundTrip } from "./floor.ts";
import { describeMachine } from "./machine.ts";
import { methodNotes } from "./notes.ts";
import { benchOcr } from "./ocr.ts";
import { PLAN } from "./plan.ts";
import { benchQueue } from "./queue.ts";
import { QUEUE_PEER_LABEL } from "./queue-report.ts";
import { renderMarkdown, renderTable, type Section } from "./report.ts";
import {
  benchCancel,
  benchInvoke,
  benchLatency,
  benchStart,
  benchThroughput,
  loadCompiled,
  type StartFigures,
  WORLD_SIZE,
} from "./runner.ts";
import { benchServing } from "./serving.ts";
import {
  cancelRow,
  floorRow,
  invokeRow,
  latencyRow,
  type Row,
  startRows,
  throughputRow,
} from "./targets.ts";

const OUTPUT = new URL("../BENCHMARKS.md", import.meta.url);
/** Whether this Node strips TypeScript types by default (22.18+, 23.6+, 24). */
const STRIPS_TYPES = Boolean((process.features as { typescript?: unknown }).typescript);

async function main(): Promise<void> {
  const began = performance.now();
  const machine = await describeMachine();
  await buildWorkers();
  const api = await loadCompiled();
  const echo = workerUrl("echo");
  const stream = workerUrl("stream");
  const floor = workerUrl("floor");
  const { paced, burst } = PLAN;

  const [compiled, typescript] = (await step("start(), compiled and .ts workers in turns", () =>
    benchStart(api, [echo, workerUrl("echo", "ts")], PLAN.starts),
  )) as [StartFigures, StartFigures];
  assertLoader(compiled, /\/build\/bench\/echo\.js$/, false);
  // The .ts echo worker needs no transform: a Node that strips types runs it without tsx.
  assertLoader(typescript, /\/bench\/workers\/echo\.ts$/, !STRIPS_TYPES);
  const invoke = await step("invoke()", () => benchInvoke(api, echo, PLAN.invokes));
  const invokeFloor = await step("invoke() floor", () =>
    floorRoundTrip(floor, WORLD_SIZE, PLAN.invokes),
  );
  const latency = await step("result latency, blocks alternating with its floor's", () =>
    benchLatency(api, stream, paced, () => floorLatency(floor, paced.count, paced.intervalMs)),
  );
  const throughput = await step("back-to-back results", () =>
    benchThroughput(api, stream, burst.count, burst.repeats),
  );
  const cancel = await step("cancel", () => benchCancel(api, stream, PLAN.cancels));
  const collectives = await step("collectives", runCollectives);
  const sections: Section[] = [
    {
      title: "Serving (HTTP and SSE)",
      rows: await step("serving", () => optional(benchServing)),
      peerLabel: "fal.distributed + FastAPI/uvicorn (measured, reported in the issue)",
    },
    {
      title: "Examples",
      rows: await step("examples", () => optional(benchExamples)),
    },
    {
      title:
        "OCR service (examples/ocr-service, PP-OCRv4 on onnxruntime-node; CPU ranks: no GPU machine was available for a GPU run)",
      rows: await step("ocr service", () => optional(benchOcr)),
    },
  ];
  const queue = await step("queue on Redis", () => optional(benchQueue));
  sections.push({
    title: "Queue on Redis (replicas of one app, each a process, sharing one redis-server)",
    rows: typeof queue === "string" ? queue : queue.rows,
    peerLabel: QUEUE_PEER_LABEL,
  });

  const rows = [
    ...startRows(compiled, typescript),
    invokeRow(invoke),
    floorRow(`round trip to ${WORLD_SIZE} children`, invokeFloor),
    latencyRow(latency, paced.intervalMs),
    floorRow("one-way, same pacing, in the blocks between", latency.floor),
    throughputRow(throughput, burst.count),
    cancelRow(cancel),
  ];
  const notes = [
    ...methodNotes({ compiled, typescript, latency, throughput, cancel }),
    ...(typeof queue === "string" ? [] : queue.notes),
  ];
  process.stdout.write(`\n${renderTable(rows)}\n`);
  process.stdout.write(
    typeof collectives === "string"
      ? `\nCollectives: ${collectives}\n`
      : `\n${renderTable(collectives)}\n`,
  );
  for (const section of sections) {
    process.stdout.write(
      `\n${section.title}\n${typeof section.rows === "string" ? section.rows : renderTable(section.rows, section.peerLabel)}\n`,
    );
  }
  await writeFile(
    OUTPUT,
    renderMarkdown({ date: new Date(), machine, rows, collectives, sections, notes }),
  );
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  process.stdout.write(`\nWrote BENCHMARKS.md in ${seconds} s\n`);
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  process.stderr.write(`bench: ${name}…\n`);
  return run();
}

/** A figure only counts if its ranks loaded the module we meant, with the loader we meant. */
function assertLoader(figures: StartFigures, module: RegExp, tsx: boolean): void {
  const { probe } = figures;
  const usesTsx = probe.execArgv.some((arg) => arg.includes("tsx"));
  if (!module.test(probe.module) || usesTsx !== tsx) {
    throw new Error(`Ranks loaded ${probe.module} with ${JSON.stringify(probe.execArgv)}`);
  }
}

/** A part's rows, or why it failed: one failing part must not cost the others' figures. */
async function optional<T>(run: () => Promise<T>): Promise<T | string> {
  try {
    return await run();
  } catch (error) {
    return `Failed: ${String(error).split("\n")[0]}.`;
  }
}

/** Rows of `bench/collectives/collectives.ts`, another part's benchmarks, or why there are none. */
async function runCollectives(): Promise<Row[] | string> {
  const url = new URL("./collectives/collectives.ts", import.meta.url).href;
  let module: { benchCollectives?: unknown };
  try {
    module = (await import(url)) as { benchCollectives?: unknown };
  } catch (error) {
    return `Skipped: bench/collectives/collectives.ts could not be imported (${String(error).split("\n")[0]}).`;
  }
  if (typeof module.benchCollectives !== "function") {
    return "Skipped: bench/collectives/collectives.ts does not export benchCollectives().";
  }
  try {
    return (await module.benchCollectives()) as Row[];
  } catch (error) {
    return `Failed: benchCollectives() threw ${String(error).split("\n")[0]}.`;
  }
}

await main();
