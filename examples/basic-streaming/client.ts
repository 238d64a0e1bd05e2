/**
 * The seed's client (fal's "Event Streaming", step 3) with `troupe/client`: prints `Step N: P%`
 * as each result arrives, then the final result. Run it while `main.ts` serves:
 * `npx tsx examples/basic-streaming/client.ts` (`PORT` as for the server).
 */
import { fileURLToPath } from "node:url";
import { stream } from "../../src/client/index.ts";
import type { FinalResult, Progress, StreamInput } from "./worker.ts";

/**
 * Streams `input` from the app at `url`, handing each line to `print`; resolves with the final
 * result. `signal` stops the request on the server too.
 */
export async function runClient(
  url: string,
  print: (line: string) => void,
  options: { readonly input?: StreamInput; readonly signal?: AbortSignal } = {},
): Promise<FinalResult> {
  const events = stream<Progress, FinalResult, StreamInput>(url, {
    path: "/stream",
    input: options.input ?? { prompt: "A sunset", steps: 20 },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  for await (const event of events) {
    print(`Step ${event.step}: ${Math.round(event.progress * 100)}%`);
  }
  const final = await events.done();
  print(`Result: ${final.output}`);
  return final;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  await runClient(`http://127.0.0.1:${process.env.PORT ?? 8000}`, console.log, {
    signal: controller.signal,
  });
}
