import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve } from "../../src/app/index.ts";
import { DistributedRunner, decodeNpy, Tensor } from "../../src/index.ts";
import DdpTrainingApp, { TrainRequest } from "./app.ts";
import { twoSpirals } from "./dataset.ts";
import { Mlp, unflatten } from "./mlp.ts";
import { singleProcess, type TrainOutcome, type TrainReport, train, trainConfig } from "./train.ts";
import type TrainingWorker from "./worker.ts";
import type { TrainResult } from "./worker.ts";

const config = trainConfig({ seed: 1, steps: 300, batchSize: 64, reportEvery: 10 });

describe("the MLP's gradient", () => {
  it("matches central finite differences of the summed loss", () => {
    const data = twoSpirals({ perClass: 8, seed: 5 });
    const mlp = new Mlp(4);
    const params = mlp.init(6);
    const all = Int32Array.from({ length: data.size }, (_, i) => i);
    const lossAt = (p: Float64Array) =>
      mlp.accumulate(p, data.x, data.labels, all, 0, data.size, new Float64Array(mlp.size)).loss;
    const grads = new Float64Array(mlp.size);
    mlp.accumulate(params, data.x, data.labels, all, 0, data.size, grads);
    const eps = 1e-6;
    for (let i = 0; i < mlp.size; i++) {
      const plus = params.slice();
      const minus = params.slice();
      plus[i] = (plus[i] as number) + eps;
      minus[i] = (minus[i] as number) - eps;
      const numeric = (lossAt(plus) - lossAt(minus)) / (2 * eps);
      expect(grads[i]).toBeCloseTo(numeric, 5);
    }
  });
});

describe("training in one process", () => {
  it("learns the spirals: accuracy on the whole dataset goes from a coin toss to over 95%", async () => {
    const outcome = await train(config, singleProcess);
    expect(outcome.initial.accuracy).toBeLessThan(0.7);
    expect(outcome.final.accuracy).toBeGreaterThan(0.95);
    expect(outcome.final.loss).toBeLessThan(outcome.initial.loss / 4);
  });
});

describe.each([1, 2, 3])("data-parallel training on %i rank(s)", (worldSize) => {
  let runner: DistributedRunner<TrainingWorker>;
  let reference: TrainOutcome;
  const referenceReports: TrainReport[] = [];
  let reports: TrainReport[];
  let result: TrainResult;

  beforeAll(async () => {
    runner = new DistributedRunner<TrainingWorker>({
      worker: new URL("./worker.ts", import.meta.url),
      worldSize,
      gpus: [],
    });
    [reference] = await Promise.all([
      train(config, singleProcess, { onReport: (r) => void referenceReports.push(r) }),
      runner.start({ timeout: 60_000 }),
    ]);
    const stream = runner.stream(config);
    reports = [];
    for await (const event of stream.events()) {
      if (event.type === "result") reports.push(event.data);
    }
    result = await stream.done();
  });

  afterAll(async () => {
    await runner?.stop();
  });

  it("leaves every rank with exactly the same weights", () => {
    expect(result.worldSize).toBe(worldSize);
    expect(result.replicaDrift).toBe(0);
  });

  it("ends with the weights of one process training on the whole batches", () => {
    const expected = unflatten(config.hidden, reference.params);
    for (const name of ["w1", "b1", "w2", "b2"] as const) {
      const tensor = result.weights[name];
      expect(tensor).toBeInstanceOf(Tensor);
      expect(tensor.dtype).toBe("float64");
      const got = tensor.data as Float64Array;
      const want = expected[name];
      expect(got.length).toBe(want.length);
      // Only the order of the floating-point additions differs between world sizes.
      for (let i = 0; i < want.length; i++) {
        expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-9);
      }
    }
    expect(result.weights.w1.shape).toEqual([config.hidden, 2]);
    expect(result.weights.w2.shape).toEqual([2, config.hidden]);
  });

  it("learns the spirals as well as one process does", () => {
    expect(result.initialAccuracy).toBeLessThan(0.7);
    expect(result.accuracy).toBeGreaterThan(0.95);
    expect(result.accuracy).toBe(reference.final.accuracy);
    expect(result.loss).toBeCloseTo(reference.final.loss, 9);
    expect(result.loss).toBeLessThan(result.initialLoss / 4);
  });

  it("streams a report from rank 0 every 10 steps, in order, matching the whole-batch run", () => {
    expect(reports.map((r) => r.step)).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * 10));
    expect(reports.map((r) => r.progress)).toEqual(reports.map((r) => r.step / 300));
    for (const [i, report] of reports.entries()) {
      const want = referenceReports[i] as TrainReport;
      expect(report.accuracy).toBe(want.accuracy);
      expect(report.loss).toBeCloseTo(want.loss, 9);
    }
  });
});

describe("the app's /train endpoint", () => {
  class CpuApp extends DdpTrainingApp {
    override gpus = [];
  }

  it("streams fal's `data:` events, a report every 10 steps, then the accuracy and the weights as .npy", async () => {
    await using server = await serve(CpuApp, { port: 0, logger: pino({ level: "silent" }) });
    const request = { steps: 100, pauseMs: 0 };
    const response = await fetch(`${server.url}/train`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const body = await response.text();
    expect(body).toMatch(/^(data: [^\n]+\n\n)+$/);
    const events = body
      .split("\n\n")
      .filter((e) => e !== "")
      .map((e) => JSON.parse(e.slice("data: ".length)));
    const final = events.pop();
    expect(events.map((e) => e.step)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);

    const reference = await train(trainConfig(TrainRequest.parse(request)), singleProcess);
    expect(final.worldSize).toBe(2);
    expect(final.replicaDrift).toBe(0);
    expect(final.accuracy).toBe(reference.final.accuracy);
    const { w1 } = unflatten(16, reference.params);
    expect(final.weights.w1).toMatchObject({
      content_type: "application/x-npy",
      shape: [16, 2],
      dtype: "float64",
    });
    // A plain Uint8Array: decodeNpy's `bytes.slice()` does not copy a Node Buffer (pooled).
    const npy = decodeNpy(
      new Uint8Array(Buffer.from(final.weights.w1.url.split(",")[1], "base64")),
    );
    expect(npy.shape).toEqual([16, 2]);
    const got = npy.data as Float64Array;
    for (let i = 0; i < w1.length; i++) {
      expect(Math.abs((got[i] as number) - (w1[i] as number))).toBeLessThan(1e-9);
    }
  });
});
