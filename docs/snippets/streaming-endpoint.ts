// docs:start
import { DistributedRunner } from "troupe";
import { App, endpoint, StreamingResponse } from "troupe/app";
import { z } from "zod";

const MyRequest = z.object({
  prompt: z.string(),
  steps: z.number().int().min(1).max(200).default(20),
});

export default class MyApp extends App {
  override numGpus = 2;
  runner!: DistributedRunner;

  override async setup() {
    this.runner = new DistributedRunner({
      worker: new URL("./stream-from-workers.ts", import.meta.url),
      worldSize: this.numGpus,
    });
    await this.runner.start();
  }

  override async teardown() {
    await this.runner.stop();
  }

  @endpoint("/stream", { input: MyRequest, streaming: true })
  async stream(request: z.infer<typeof MyRequest>) {
    return new StreamingResponse(this.runner.stream(request, { asTextEvents: true }), {
      mediaType: "text/event-stream",
    });
  }

  @endpoint("/", { input: MyRequest })
  async run(request: z.infer<typeof MyRequest>) {
    return await this.runner.invoke(request);
  }
}
// docs:end
