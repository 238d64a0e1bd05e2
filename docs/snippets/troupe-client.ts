import { stream } from "troupe/client";

export async function follow(signal: AbortSignal): Promise<void> {
  // docs:start
  const s = stream<{ step: number; progress: number }, { output: string }>(
    "http://127.0.0.1:8000",
    { input: { prompt: "A sunset", steps: 20 }, path: "/stream", signal },
  );
  for await (const event of s) console.log(`Step ${event.step}: ${event.progress * 100}%`);
  const final = await s.done();
  console.log(final.output);
  // docs:end
}
