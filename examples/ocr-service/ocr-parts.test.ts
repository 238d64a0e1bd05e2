import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { characterErrorRate } from "./cer.ts";
import { detectionSize } from "./detection.ts";
import { localWorldSizeFromEnv, sessionOptionsFor } from "./onnx-session.ts";
import { pageText, readingOrder } from "./reading-order.ts";
import { decodeCtc } from "./recognition.ts";
import type { Point } from "./text-boxes.ts";

const rect = (x: number, y: number, w: number, h: number): [Point, Point, Point, Point] => [
  [x, y],
  [x + w, y],
  [x + w, y + h],
  [x, y + h],
];

describe("the OCR example's parts", () => {
  it("puts a rank on the CUDA provider of its device, else on the CPU, with its share of the cores", () => {
    const cores = availableParallelism();
    expect(sessionOptionsFor({ device: "cuda:0", localWorldSize: 1 })).toMatchObject({
      executionProviders: [{ name: "cuda", deviceId: 0 }, "cpu"],
      intraOpNumThreads: cores,
    });
    expect(sessionOptionsFor({ device: "cpu", localWorldSize: 2 })).toMatchObject({
      executionProviders: ["cpu"],
      intraOpNumThreads: Math.max(1, Math.floor(cores / 2)),
    });
    expect(sessionOptionsFor({ device: "cpu", localWorldSize: 64 * cores })).toMatchObject({
      intraOpNumThreads: 1,
    });
    expect(sessionOptionsFor({ device: "cuda:0", localWorldSize: 4, threads: 3 })).toMatchObject({
      intraOpNumThreads: 3,
    });
    // 0: onnxruntime picks (a thread per physical core).
    expect(sessionOptionsFor({ device: "cpu", localWorldSize: 1, threads: 0 })).not.toHaveProperty(
      "intraOpNumThreads",
    );
    expect(localWorldSizeFromEnv({ LOCAL_WORLD_SIZE: "4", WORLD_SIZE: "8" })).toBe(4);
    expect(localWorldSizeFromEnv({ WORLD_SIZE: "2" })).toBe(2);
    expect(localWorldSizeFromEnv({ LOCAL_WORLD_SIZE: "zero" })).toBe(1);
  });

  it("sizes the detector's input in multiples of 32, the longer side at most 960", () => {
    expect(detectionSize(900, 805)).toEqual({ width: 896, height: 800 });
    expect(detectionSize(1920, 1080)).toEqual({ width: 960, height: 544 });
    expect(detectionSize(10, 10)).toEqual({ width: 32, height: 32 });
  });

  it("orders boxes in rows top to bottom and left to right, words of one row together", () => {
    const boxes = [
      { id: "second row", box: rect(10, 60, 300, 24) },
      { id: "first row, right", box: rect(200, 12, 100, 22) },
      { id: "first row, left", box: rect(10, 10, 150, 24) },
    ];
    const ordered = readingOrder(boxes);
    expect(ordered.map(({ item, row }) => [item.id, row])).toEqual([
      ["first row, left", 0],
      ["first row, right", 0],
      ["second row", 1],
    ]);
    const lines = ordered.map(({ item, row }) => ({ row, text: item.id }));
    expect(pageText(lines)).toBe("first row, left first row, right\nsecond row");
    expect(readingOrder([])).toEqual([]);
  });

  it("decodes CTC: repeats collapse, blanks drop and separate repeats, the score is the mean", () => {
    const dictionary = ["a", "b", " "];
    // Classes: 0 blank, 1 "a", 2 "b", 3 " ". Steps: a a blank a b blank.
    const steps = [1, 1, 0, 1, 2, 0];
    const probabilities = new Float32Array(steps.length * 4);
    steps.forEach((k, t) => {
      probabilities.fill(0.05, t * 4, t * 4 + 4);
      probabilities[t * 4 + k] = 0.5 + t * 0.05;
    });
    const { text, score } = decodeCtc(probabilities, steps.length, 4, dictionary);
    expect(text).toBe("aab");
    // The kept steps are 0, 3 and 4.
    expect(score).toBeCloseTo((0.5 + 0.65 + 0.7) / 3, 5);
    expect(decodeCtc(new Float32Array(8), 2, 4, dictionary)).toEqual({ text: "", score: 0 });
  });

  it("measures the character error rate as edits over the known text's length", () => {
    expect(characterErrorRate("kitten", "sitting")).toBeCloseTo(3 / 7, 10);
    expect(characterErrorRate("a  b\nc", "a b c")).toBe(0);
    expect(characterErrorRate("", "")).toBe(0);
    expect(characterErrorRate("x", "")).toBe(1);
  });
});
