/**
 * The serving benchmarks' app, on the compiled build: two CPU ranks of the stream worker behind
 * `POST /stream`. Run as a script it serves it and prints `{"url","pid"}` as one JSON line, so
 * its memory can be measured apart from the clients'.
 */
import type * as AppApi from "../src/app/index.ts";
import { type Api, loadCompiled } from "./runner.ts";
import type { StreamInput } from "./workers/stream.ts";

/** `troupe/app` from the build (`dist/app/index.js`), so its RunnerStream is the runner's. */
export async function loadCompiledApp(): Promise<typeof AppApi> {
  return (await import(new URL("../dist/app/index.js", import.meta.url).href)) as typeof AppApi;
}

/** The app class; `streamAllRanks` makes its runner forward every rank's results. */
export async function benchApp(api: Api, app: typeof AppApi, streamAllRanks = false) {
  const { z } = await import("zod");
  const Input = z.looseObject({ op: z.string() });
  class BenchApp extends app.App {
    runner!: InstanceType<Api["DistributedRunner"]>;
    override async setup() {
      this.runner = new api.DistributedRunner({
        // build-workers.ts knows this path too, but importing it would load TypeScript here.
        worker: new URL("../build/bench/stream.js", import.meta.url),
        worldSize: 2,
        gpus: [],
        streamAllRanks,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      await this.runner.start();
    }

    @app.endpoint("/stream", { input: Input })
    async stream(input: StreamInput) {
      return new app.StreamingResponse(this.runner.stream(input, { asTextEvents: true }));
    }
  }
  return BenchApp;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [api, app, { pino }] = await Promise.all([
    loadCompiled(),
    loadCompiledApp(),
    import("pino"),
  ]);
  const server = await app.serve(await benchApp(api, app), {
    port: 0,
    logger: pino({ level: "silent" }),
    heartbeatInterval: Number(process.argv[2] ?? 1000),
    handleSignals: true,
  });
  process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
}
