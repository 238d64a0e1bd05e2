import { z } from "zod";
import { App, type EndpointContext, endpoint, StreamingResponse } from "../../src/app/index.ts";
import { DistributedRunner } from "../../src/index.ts";
import type ParallelPreviewWorker from "./worker.ts";

export const GenerateRequest = z.object({
  prompt: z
    .string()
    .default("A sunset over the sea")
    .describe("Picks the fractal and its colours (try sunset, ocean, forest)"),
  seed: z.int().min(0).max(2_000_000_000).default(42),
  steps: z.int().min(1).max(200).default(30).describe("Samples per pixel; a preview every 5"),
  size: z.int().min(16).max(1024).default(256).describe("Side of each picture, in pixels"),
  mode: z
    .enum(["variations", "split"])
    .default("variations")
    .describe(
      "variations: a picture per seed, spread over the ranks; split: one picture, a band of rows per rank",
    ),
  variations: z.int().min(1).max(16).default(4).describe("Pictures in the grid (variations mode)"),
  previews: z
    .enum(["latest", "all"])
    .default("latest")
    .describe("latest: a slow client skips to the newest preview; all: it gets every one"),
  format: z.enum(["jpeg", "png", "webp"]).default("jpeg").describe("Format of the final image"),
});

export type GenerateRequest = z.infer<typeof GenerateRequest>;

/**
 * The parallel-preview app: `POST /stream` renders on every rank and streams progress each step
 * and a gathered, blurred preview every 5 steps, then the final picture; `POST /` answers with the
 * final picture only. Serve it with `main.ts`, or `npx troupe run examples/parallel-preview/app.ts`.
 */
export default class ParallelPreviewApp extends App {
  override numGpus = 2;
  /** GPU ids, one per rank; `[]` runs the ranks on the CPU. @default detected (troupe's `gpus`) */
  gpus: readonly number[] | undefined = undefined;
  runner!: DistributedRunner<ParallelPreviewWorker>;

  override async setup() {
    this.runner = new DistributedRunner<ParallelPreviewWorker>({
      worker: new URL("./worker.ts", import.meta.url),
      worldSize: this.numGpus,
      ...(this.gpus === undefined ? {} : { gpus: this.gpus }),
    });
    await this.runner.start({ timeout: 60_000 });
  }

  @endpoint("/stream", {
    input: GenerateRequest,
    streaming: true,
    summary: "Render on every rank, streaming progress and a preview every 5 steps",
  })
  stream(request: GenerateRequest, ctx: EndpointContext) {
    const { format, ...input } = request;
    return new StreamingResponse(
      this.runner.stream(input, { requestId: ctx.requestId, imageFormat: format }),
    );
  }

  @endpoint("/", {
    input: GenerateRequest,
    summary: "Render on every rank; the final picture only",
  })
  async generate(request: GenerateRequest, ctx: EndpointContext) {
    const { format, ...input } = request;
    return await this.runner.invoke(input, { requestId: ctx.requestId, imageFormat: format });
  }
}
