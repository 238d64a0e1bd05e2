/** Messages of every type, both directions, for the frame and message tests. */
import { expect } from "vitest";
import type { SerializedError } from "../../../src/errors.ts";
import { FrameDecoder } from "../../../src/ipc/frame-decoder.ts";
import type { RankMessage, RunnerMessage } from "../../../src/ipc/messages.ts";
import { parseRankMessage, parseRunnerMessage } from "../../../src/ipc/parse-message.ts";
import { encodeValue } from "../../../src/ipc/value-codec.ts";

export const bytes = (value: unknown): Uint8Array => new Uint8Array(encodeValue(value));

// Stackless, so the test titles that print messages stay short.
export const error: SerializedError = {
  name: "TypeError",
  code: "E_BAD",
  message: "bad input",
  rank: 1,
};

export const runnerMessages: RunnerMessage[] = [
  {
    t: "init",
    worker: "file:///srv/worker.ts",
    setup: { model: "tiny", layers: [1, 2, 3] },
    config: {
      streamAllRanks: true,
      maxPendingBytes: 1024,
      highWaterMark: 16,
      collectiveTimeout: 5000,
    },
  },
  {
    t: "call",
    id: 1,
    requestId: "req-ü-1",
    payload: bytes({ prompt: "héllo 😀" }),
    streaming: true,
    imageFormat: "png",
    held: true,
  },
  { t: "go", id: 1 },
  { t: "cancel", id: 2, reason: error },
  { t: "stop" },
];

export const rankMessages: RankMessage[] = [
  { t: "ready" },
  { t: "setupFailed", error },
  { t: "results", id: 3, items: [bytes(1), bytes({ step: 2 })] },
  {
    t: "results",
    id: 4,
    items: [bytes("a"), bytes("b")],
    keys: ["preview", null],
  },
  { t: "streamError", id: 5, error },
  { t: "done", id: 6, output: bytes({ output: "fin" }) },
  { t: "failed", id: 7, error, aborted: true },
  { t: "log", level: "warn", msg: "low memory ⚠" },
  { t: "stopped" },
];

export const allMessages: (RunnerMessage | RankMessage)[] = [...runnerMessages, ...rankMessages];

export function parseAny(value: unknown): RunnerMessage | RankMessage {
  const t = (value as { t?: unknown }).t;
  return runnerMessages.some((m) => m.t === t)
    ? parseRunnerMessage(value)
    : parseRankMessage(value);
}

export function decodeAll(chunks: readonly Uint8Array[]): unknown[] {
  const decoder = new FrameDecoder();
  const out = chunks.flatMap((chunk) => decoder.push(chunk));
  expect(decoder.buffered).toBe(0);
  return out;
}
