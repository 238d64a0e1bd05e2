import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistributedRunner, ErrorCode } from "../../src/index.ts";
import type OcrWorker from "./worker.ts";
import type { OcrSetup } from "./worker.ts";

const WORKER = new URL("./worker.ts", import.meta.url);

/** Starts the OCR worker with `setup`, and what `start()` rejects with (undefined when it starts). */
async function startWith(
  setup: OcrSetup,
  options: { worldSize?: number; gpus?: number[] } = {},
): Promise<unknown> {
  const runner = new DistributedRunner<OcrWorker>({
    worker: WORKER,
    worldSize: options.worldSize ?? 2,
    gpus: options.gpus ?? [],
    restart: false,
  });
  try {
    await runner.start({ timeout: 60_000, setup });
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await runner.stop();
  }
}

describe("the OCR worker's setup", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ocr-setup-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("fails start() with SETUP_FAILED naming the rank and a missing detection model", async () => {
    const missing = join(dir, "missing-det.onnx");
    const error = await startWith({ models: { detection: missing } });
    expect(error).toMatchObject({
      code: ErrorCode.SETUP_FAILED,
      message: expect.stringMatching(
        new RegExp(
          `^Rank [01] failed in setup\\(\\): Cannot read the detection model ${missing}: ENOENT`,
        ),
      ),
    });
  });

  it("fails start() with SETUP_FAILED naming the rank and a corrupt recognition model", async () => {
    const corrupt = join(dir, "corrupt-rec.onnx");
    await writeFile(corrupt, "this is not a protobuf");
    const error = await startWith({ models: { recognition: corrupt } });
    expect(error).toMatchObject({
      code: ErrorCode.SETUP_FAILED,
      message: expect.stringMatching(
        new RegExp(
          `^Rank [01] failed in setup\\(\\): The recognition model ${corrupt} is not a valid ONNX model`,
        ),
      ),
    });
  });

  it("fails start() with SETUP_FAILED naming an empty character list", async () => {
    const empty = join(dir, "empty-keys.txt");
    await writeFile(empty, "");
    const error = await startWith({ models: { dictionary: empty } }, { worldSize: 1 });
    expect(error).toMatchObject({
      code: ErrorCode.SETUP_FAILED,
      message: `Rank 0 failed in setup(): The character list ${empty} is empty`,
    });
  });

  it("on a GPU rank, uses the CUDA provider, or says how to install it when it is missing", async () => {
    // onnxruntime-node's CUDA provider is a separate download (allowScripts skips it: README).
    const ort = dirname(createRequire(import.meta.url).resolve("onnxruntime-node"));
    const provider = join(
      ort,
      "..",
      "bin",
      "napi-v6",
      "linux",
      "x64",
      "libonnxruntime_providers_cuda.so",
    );
    const error = await startWith({}, { worldSize: 1, gpus: [0] });
    if (existsSync(provider)) {
      // Installed: the rank starts on its GPU, or names what CUDA itself lacks.
      if (error !== undefined) {
        expect(error).toMatchObject({ code: ErrorCode.SETUP_FAILED });
        expect((error as Error).message).not.toContain("is not installed");
      }
      return;
    }
    expect(error).toMatchObject({
      code: ErrorCode.SETUP_FAILED,
      message: expect.stringContaining("onnxruntime-node's CUDA provider is not installed"),
    });
    expect((error as Error).message).toContain(
      "ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install",
    );
  });
});
