/**
 * The smallest troupe program that streams: two ranks, rank 0 streams progress, the terminal
 * shows each event as it arrives, then the final result. `npm start` runs it.
 */
import { DistributedRunner } from "../../src/index.ts";
import type StreamingWorker from "./worker.ts";

await using runner = new DistributedRunner<StreamingWorker>({
  worker: new URL("./worker.ts", import.meta.url),
  worldSize: 2,
});
await runner.start({ timeout: 60_000, setup: { model: "tiny" } });

const controller = new AbortController();
process.once("SIGINT", () => controller.abort());

const stream = runner.stream({ prompt: "A sunset", steps: 20 }, { signal: controller.signal });
for await (const event of stream) {
  if ("progress" in event) {
    console.log(`Step ${event.step}: ${Math.round(event.progress * 100)}%  ${event.message}`);
  }
}
const final = await stream.done();
console.log(`Final: ${final.output} (pi ~ ${final.pi.toFixed(5)})`);
