/** Channels that record what a rank's outbox writes, and the results frames decoded from it. */
import { Writable } from "node:stream";
import { expect } from "vitest";
import { FrameDecoder } from "../../../src/ipc/frame-decoder.ts";
import { parseRankMessage } from "../../../src/ipc/parse-message.ts";
import { decodeValue } from "../../../src/ipc/value-codec.ts";

interface DecodedFrame {
  readonly id: number;
  readonly items: readonly Uint8Array[];
  readonly keys: readonly (string | null)[] | undefined;
}

/** Decodes the bytes a channel received (fed chunk by chunk) into its `results` frames. */
export function decodeFrames(chunks: readonly Uint8Array[]): DecodedFrame[] {
  const decoder = new FrameDecoder();
  const frames = chunks.flatMap((chunk) => decoder.push(chunk)).map(parseRankMessage);
  expect(decoder.buffered).toBe(0);
  return frames.map((frame) => {
    if (frame.t !== "results") throw new Error(`Expected a results frame, got ${frame.t}`);
    return { id: frame.id, items: frame.items, keys: frame.keys };
  });
}

/** The decoded values of each frame, one array per frame. */
export function valuesPerFrame(chunks: readonly Uint8Array[]): unknown[][] {
  return decodeFrames(chunks).map((frame) => frame.items.map((item) => decodeValue(item)));
}

/** A channel that accepts every write at once. */
export function freeChannel(): { channel: Writable; chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  const channel = new Writable({
    write(chunk: Uint8Array, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { channel, chunks };
}

/**
 * A channel whose writes complete only when the test calls `release()`: with highWaterMark 1 it
 * needs draining after every write, as a pipe to a runner that stopped reading does.
 */
export function heldChannel(): { channel: Writable; chunks: Uint8Array[]; release(): void } {
  const chunks: Uint8Array[] = [];
  const callbacks: (() => void)[] = [];
  const channel = new Writable({
    highWaterMark: 1,
    write(chunk: Uint8Array, _encoding, callback) {
      chunks.push(chunk);
      callbacks.push(() => callback());
    },
  });
  return {
    channel,
    chunks,
    release() {
      for (const callback of callbacks.splice(0)) callback();
    },
  };
}

export function clock(): { now: () => number; set(ms: number): void } {
  let t = 0;
  return {
    now: () => t,
    set(ms: number) {
      t = ms;
    },
  };
}

/** Everything a channel received, in order: each result's value, and each streamed error's message. */
export function streamed(chunks: readonly Uint8Array[]): unknown[] {
  const decoder = new FrameDecoder();
  return chunks
    .flatMap((chunk) => decoder.push(chunk))
    .map(parseRankMessage)
    .flatMap((message) => {
      if (message.t === "results") return message.items.map((item) => decodeValue(item));
      if (message.t === "streamError") return [{ streamError: message.error.message }];
      throw new Error(`Expected results or a streamed error, got ${message.t}`);
    });
}
