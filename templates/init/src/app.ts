import { DistributedRunner } from "troupe";
import { App, endpoint, StreamingResponse } from "troupe/app";
import { z } from "zod";
import type Worker from "./worker.ts";

export const Request = z.object({
  prompt: z.string().describe("What to work on"),
  steps: z.int().min(1).max(1000).default(10),
});

/**
 * `POST /stream` streams each step as a `data: <json>` event, the final result last (fal's
 * format); `POST /` answers with the final result alone. `npm start` serves it.
 */
export default class MyApp extends App {
  override numGpus = 2;
  /** A GPU id per rank; `[]` runs the ranks on the CPU. @default the GPUs found, else the CPU */
  gpus: readonly number[] | undefined = undefined;
  runner!: DistributedRunner<Worker>;

  override async setup() {
    this.runner = new DistributedRunner<Worker>({
      worker: new URL("./worker.ts", import.meta.url),
      worldSize: this.numGpus,
      ...(this.gpus === undefined ? {} : { gpus: this.gpus }),
    });
    await this.runner.start({ timeout: 60_000 });
  }

  @endpoint("/stream", { input: Request, streaming: true, summary: "Stream each step" })
  async stream(request: z.infer<typeof Request>) {
    return new StreamingResponse(this.runner.stream(request, { asTextEvents: true }), {
      mediaType: "text/event-stream",
    });
  }

  @endpoint("/", { input: Request, summary: "The final result only" })
  async run(request: z.infer<typeof Request>) {
    return await this.runner.invoke(request);
  }
}
