/**
 * One replica of the queue benchmarks' app, on the compiled build: a runner of the queue worker
 * behind one streaming endpoint, its queue in the Redis it is given. Run as a script with its
 * {@link ReplicaOptions} as one JSON argument, it serves on a free port and prints
 * `{"url","pid"}` as one JSON line.
 */
import type * as AppApi from "../src/app/index.ts";
import { type Api, loadCompiled } from "./runner.ts";
import { loadCompiledApp } from "./serving-app.ts";
import type { QueueTask } from "./workers/queue-worker.ts";

/** The app id every replica of the benchmarks shares. */
export const QUEUE_APP_ID = "bench/queue";

/** How a replica is started (bench/queue.ts passes them). */
export interface ReplicaOptions {
  /** The Redis URL the replicas share. */
  readonly redis: string;
  /** The queue's lease time, in ms. */
  readonly leaseTime: number;
  /** The most events kept of one request. */
  readonly maxEvents: number;
  /** Ranks of the replica's one runner. */
  readonly worldSize: number;
}

/** The app class: `POST /` streams the queue worker's results. */
export async function queueApp(api: Api, app: typeof AppApi, worldSize: number) {
  const { z } = await import("zod");
  const Task = z.looseObject({ op: z.enum(["run", "hold"]) });
  class QueueBenchApp extends app.App {
    runner!: InstanceType<Api["DistributedRunner"]>;
    override async setup() {
      this.runner = new api.DistributedRunner({
        // build-workers.ts knows this path too, but importing it would load TypeScript here.
        worker: new URL("../build/bench/queue-worker.js", import.meta.url),
        worldSize,
        gpus: [],
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      await this.runner.start();
    }

    @app.endpoint("/", { input: Task, streaming: true })
    async run(input: QueueTask, ctx: AppApi.EndpointContext) {
      return new app.StreamingResponse(this.runner.stream(input, { signal: ctx.signal }));
    }
  }
  return QueueBenchApp;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = JSON.parse(process.argv[2] ?? "{}") as ReplicaOptions;
  const [api, app, { pino }] = await Promise.all([
    loadCompiled(),
    loadCompiledApp(),
    import("pino"),
  ]);
  const server = await app.serve(await queueApp(api, app, options.worldSize), {
    port: 0,
    logger: pino({ level: "silent" }),
    handleSignals: true,
    appId: QUEUE_APP_ID,
    redis: options.redis,
    queue: { leaseTime: options.leaseTime, maxEvents: options.maxEvents },
  });
  process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
}
