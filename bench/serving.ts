/**
 * Benchmarks of the HTTP serving layer (troupe/app) against the compiled build: event latency
 * from rank 0's `addStreamingResult` to the client's parser, back-to-back events through one SSE
 * connection, and the memory of 1,000 open SSE connections of queued requests.
 *
 * `npx tsx bench/serving.ts` (after `npm run build`) prints the rows; `benchServing()` returns them.
 */
import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { createParser } from "eventsource-parser";
import type * as AppApi from "../src/app/index.ts";
import { buildWorkers } from "./build-workers.ts";
import { renderTable } from "./report.ts";
import { type Api, loadCompiled } from "./runner.ts";
import { benchApp, loadCompiledApp } from "./serving-app.ts";
import { formatMs, formatRate, summarize } from "./stats.ts";
import type { Row } from "./targets.ts";
import { monotonicMs } from "./workers/clock.ts";

const TARGET = {
  latencyP50Ms: 1,
  latencyP99Ms: 3,
  perSecond: 100_000,
  rssMiB: 200,
  cancelMs: 100,
} as const;
const PEER_LATENCY = "52.8 ms p50, 101 ms p99";

/** The rows of the serving benchmarks. Needs `dist/` (npm run build). */
export async function benchServing(): Promise<Row[]> {
  await buildWorkers();
  const [api, app, { pino }] = await Promise.all([
    loadCompiled(),
    loadCompiledApp(),
    import("pino"),
  ]);
  const connections = await benchConnections(1000);
  const BenchApp = await benchApp(api, app);
  const server = await app.serve(BenchApp, { port: 0, logger: pino({ level: "silent" }) });
  try {
    const latency = await benchLatency(server, 500, 5);
    const throughput = await benchThroughput(server, 100_000);
    const cancel = await benchDisconnect(
      await app.serve(await benchApp(api, app, true), {
        port: 0,
        logger: pino({ level: "silent" }),
      }),
      50,
    );
    return [
      {
        figure: `SSE event latency, worker emit → client parse (${latency.n} events 5 ms apart)`,
        troupe: `${formatMs(latency.p50)} p50, ${formatMs(latency.p99)} p99`,
        peer: PEER_LATENCY,
        target: `≤ ${TARGET.latencyP50Ms} ms p50, ≤ ${TARGET.latencyP99Ms} ms p99`,
        pass: latency.p50 <= TARGET.latencyP50Ms && latency.p99 <= TARGET.latencyP99Ms,
      },
      {
        figure: `SSE events back-to-back through one connection (${throughput.count.toLocaleString("en-US")})`,
        troupe: `${formatRate(throughput.perSecond)}, ${throughput.lost} lost, ${throughput.outOfOrder} out of order`,
        target: `≥ ${formatRate(TARGET.perSecond)}, none lost`,
        pass:
          throughput.perSecond >= TARGET.perSecond &&
          throughput.lost === 0 &&
          throughput.outOfOrder === 0,
      },
      {
        figure: `client disconnect → ctx.signal fired on every rank (${cancel.n} fal-dialect streams)`,
        troupe: `${formatMs(cancel.p50)} p50, ${formatMs(cancel.max)} max`,
        target: `≤ ${TARGET.cancelMs} ms`,
        pass: cancel.max <= TARGET.cancelMs,
      },
      {
        figure: `server RSS with ${connections.open} open SSE connections of queued requests, heartbeats every 500 ms`,
        troupe: `${connections.rssMiB.toFixed(0)} MiB (+${connections.deltaMiB.toFixed(0)} MiB for the connections), ${connections.pings} pings seen`,
        target: `≤ ${TARGET.rssMiB} MB`,
        pass: connections.rssMiB * 1.048576 <= TARGET.rssMiB,
      },
    ];
  } finally {
    await server.close();
  }
}

/** Streams `path` and calls `onEvent` with each parsed event's data; resolves at the end. */
function sse(
  url: string,
  body: unknown,
  onEvent: (data: string, event: string | undefined) => void,
  headers: Record<string, string> = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const parser = createParser({ onEvent: (e) => onEvent(e.data, e.event) });
    const req = request(
      url,
      { method: "POST", headers: { "content-type": "application/json", ...headers } },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => parser.feed(chunk));
        res.on("end", resolve);
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function benchLatency(server: AppApi.ServerHandle, count: number, intervalMs: number) {
  const samples: number[] = [];
  await sse(`${server.url}/stream`, { op: "paced", count: 50, intervalMs }, () => {}); // warm-up
  await sse(`${server.url}/stream`, { op: "paced", count, intervalMs }, (data) => {
    const now = monotonicMs();
    const item = JSON.parse(data) as { sent?: number };
    if (item.sent !== undefined) samples.push(now - item.sent);
  });
  if (process.env.BENCH_DEBUG) console.error(samples.map((x) => x.toFixed(2)).join(" "));
  return summarize(samples);
}

async function benchThroughput(server: AppApi.ServerHandle, count: number) {
  let best = { perSecond: 0, lost: count, outOfOrder: 0, count };
  for (let run = 0; run < 3; run++) {
    let received = 0;
    let next = 0;
    let outOfOrder = 0;
    const t0 = performance.now();
    await sse(`${server.url}/stream`, { op: "burst", count }, (data) => {
      if (!data.startsWith('{"i":')) return;
      const i = JSON.parse(data).i as number;
      if (i !== next) outOfOrder++;
      next = i + 1;
      received++;
    });
    const perSecond = received / ((performance.now() - t0) / 1000);
    if (run > 0 && perSecond > best.perSecond) {
      best = { perSecond, lost: count - received, outOfOrder, count };
    }
  }
  return best;
}

/**
 * From a fal-dialect client closing its connection mid-stream until `ctx.signal` fired on the
 * last rank (the ranks stamp it on the monotonic clock every process shares).
 */
async function benchDisconnect(server: AppApi.ServerHandle, cancels: number) {
  try {
    const runner = (server.app as unknown as { runner: InstanceType<Api["DistributedRunner"]> })
      .runner;
    const samples: number[] = [];
    for (let run = 0; run < cancels; run++) {
      const socket = connect(server.port, "127.0.0.1");
      const body = JSON.stringify({ op: "hold" });
      socket.write(
        `POST /stream HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      await new Promise<void>((resolve, reject) => {
        let text = "";
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          // A refusal (a Host the server does not answer for, say) must fail the bench, not hang it.
          const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
          if (status !== undefined && status !== "200") {
            reject(
              new Error(`The disconnect bench's stream was refused: ${text.split("\r\n")[0]}`),
            );
          }
          if ((text.match(/"ready"/g) ?? []).length === 2) resolve();
        });
      });
      const closedAt = monotonicMs();
      socket.destroy();
      let latest = Number.NEGATIVE_INFINITY;
      for await (const item of runner.stream({ op: "lastAbort" })) {
        const result = (item as { result?: { abortedAt?: number } } | null)?.result;
        if (result?.abortedAt !== undefined) latest = Math.max(latest, result.abortedAt - closedAt);
      }
      samples.push(latest);
    }
    return summarize(samples);
  } finally {
    await server.close();
  }
}

/**
 * `open` SSE connections of queued requests (one request holds the ranks), each seeing a
 * heartbeat, against the app served by a process of its own; its RSS from /proc.
 */
async function benchConnections(open: number) {
  const child = spawn(
    process.execPath,
    [
      "--import",
      createRequire(import.meta.url).resolve("tsx"),
      fileURLToPath(new URL("./serving-app.ts", import.meta.url)),
      "500",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const { url, pid } = JSON.parse(await firstLine(child.stdout)) as { url: string; pid: number };
    const before = rssOf(pid);
    let pings = 0;
    let queuedSeen = 0;
    let allQueued!: () => void;
    const queued = new Promise<void>((resolve) => {
      allQueued = resolve;
    });
    let pinged!: () => void;
    const heartbeats = new Promise<void>((resolve) => {
      pinged = resolve;
    });
    let pingTarget = Number.POSITIVE_INFINITY;
    const controller = new AbortController();
    setMaxListeners(open + 10, controller.signal);
    const requests = [sse(`${url}/stream`, { op: "hold" }, () => {}).catch(() => {})];
    for (let i = 0; i < open; i++) {
      let first = true;
      requests.push(
        sseCounting(`${url}/stream`, { op: "burst", count: 1 }, controller.signal, (line) => {
          if (line === ": ping" && ++pings >= pingTarget) pinged();
          if (first && line.startsWith("event: queued")) {
            first = false;
            if (++queuedSeen === open) allQueued();
          }
        }).catch(() => {}),
      );
    }
    await queued;
    // Every connection sees a heartbeat after all of them are open.
    pingTarget = pings + open;
    await heartbeats;
    const rss = rssOf(pid);
    child.kill("SIGTERM"); // ends every stream with SHUTTING_DOWN, stops the ranks, exits
    await Promise.all(requests);
    return { open, rssMiB: rss / 2 ** 20, deltaMiB: (rss - before) / 2 ** 20, pings };
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let output = "";
    stream.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("\n")) resolve(output.slice(0, output.indexOf("\n")));
    });
  });
}

/** troupe's dialect (so queue positions arrive), calling `onLine` with every line of the body. */
function sseCounting(
  url: string,
  body: unknown,
  signal: AbortSignal,
  onLine: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "troupe-dialect": "troupe" },
        signal,
        agent: false,
      },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          for (const line of chunk.split("\n")) if (line !== "") onLine(line);
        });
        res.on("end", resolve);
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchServing();
  process.stdout.write(`${renderTable(rows)}\n`);
}
