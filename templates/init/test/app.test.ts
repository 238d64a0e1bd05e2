import { pino } from "pino";
import { type ServerHandle, serve } from "troupe/app";
import { stream } from "troupe/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import MyApp from "../src/app.ts";
import type { Output, Progress } from "../src/worker.ts";

/** The app with its two ranks on the CPU, so the test runs on any machine. */
class CpuApp extends MyApp {
  override gpus = [];
}

const STEPS = 3;
const progress = Array.from({ length: STEPS }, (_, step) => ({
  step,
  progress: (step + 1) / STEPS,
  message: `Processing step ${step + 1}/${STEPS}`,
}));
const FINAL = { output: `A sunset: ${STEPS} steps on 2 ranks` };

describe("the app", () => {
  let server: ServerHandle;

  beforeAll(async () => {
    server = await serve(CpuApp, { port: 0, logger: pino({ level: "silent" }) });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("streams every step in order, then the final result", async () => {
    const events = stream<Progress, Output>(server.url, {
      path: "/stream",
      input: { prompt: "A sunset", steps: STEPS },
    });
    const seen: Progress[] = [];
    for await (const event of events) seen.push(event);
    expect(seen).toEqual(progress);
    expect(await events.done()).toEqual(FINAL);
  });

  it("speaks fal's format on the wire: one `data:` event per step, the final result last", async () => {
    const response = await fetch(`${server.url}/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "A sunset", steps: STEPS }),
    });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = [...progress, FINAL].map((data) => `data: ${JSON.stringify(data)}\n\n`);
    expect(await response.text()).toBe(events.join(""));
  });

  it("answers POST / with the final result and refuses a bad request with 422", async () => {
    const post = (body: unknown) =>
      fetch(`${server.url}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await post({ prompt: "A sunset", steps: STEPS });
    expect(await ok.json()).toEqual(FINAL);
    expect((await post({ steps: 0 })).status).toBe(422);
  });
});
