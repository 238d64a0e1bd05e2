import { z } from "zod";
import { App, endpoint, StreamingResponse } from "../../src/app/index.ts";
import { DistributedRunner } from "../../src/index.ts";
import type StreamingWorker from "./worker.ts";

export const StreamRequest = z.object({
  prompt: z.string().describe("What to work on"),
  steps: z.int().min(1).max(1000).default(20),
  stepMs: z.int().min(0).max(10_000).default(50).describe("Time each step takes (ms)"),
});

/**
 * The seed's app (fal's "Event Streaming", step 2): `/stream` answers with the runner's text
 * events, fal's `data: <json>\n\n` format; `/` runs the same request and answers with the final
 * result as JSON.
 */
export default class BasicStreamingApp extends App {
  override numGpus = 2;
  /** GPU ids, one per rank; `[]` runs the ranks on the CPU. @default detected (troupe's `gpus`) */
  gpus: readonly number[] | undefined = undefined;
  runner!: DistributedRunner<StreamingWorker>;

  override async setup() {
    this.runner = new DistributedRunner<StreamingWorker>({
      worker: new URL("./worker.ts", import.meta.url),
      worldSize: this.numGpus,
      ...(this.gpus === undefined ? {} : { gpus: this.gpus }),
    });
    await this.runner.start({ timeout: 60_000 });
  }

  @endpoint("/stream", {
    input: StreamRequest,
    streaming: true,
    summary: "Stream progress, then the result",
  })
  async stream(request: z.infer<typeof StreamRequest>) {
    return new StreamingResponse(this.runner.stream(request, { asTextEvents: true }), {
      mediaType: "text/event-stream",
    });
  }

  @endpoint("/", { input: StreamRequest, summary: "The final result only" })
  async run(request: z.infer<typeof StreamRequest>) {
    return await this.runner.invoke(request);
  }
}
