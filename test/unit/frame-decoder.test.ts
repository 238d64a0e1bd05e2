import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/errors.ts";
import { encodeFrame } from "../../src/ipc/control-frame.ts";
import { FrameDecoder } from "../../src/ipc/frame-decoder.ts";
import { MAX_FRAME_BYTES } from "../../src/ipc/frame-header.ts";
import type { RankMessage } from "../../src/ipc/messages.ts";
import { parseRankMessage } from "../../src/ipc/parse-message.ts";
import { encodeResultsFrame } from "../../src/ipc/results-frame.ts";
import { allMessages, bytes, decodeAll, parseAny } from "./support/messages.ts";
import { concatBytes, mulberry32, unevenChunks } from "./support/prng.ts";

describe("FrameDecoder", () => {
  it.each(allMessages.map((m) => [m.t, m] as const))(
    "round-trips a %s message through encodeFrame, FrameDecoder and its parser",
    (_t, message) => {
      const decoded = new FrameDecoder().push(encodeFrame(message));
      expect(decoded).toHaveLength(1);
      expect(parseAny(decoded[0])).toEqual(message);
    },
  );

  it("decodes several frames that arrive in one chunk, in order", () => {
    const stream = concatBytes(allMessages.map(encodeFrame));
    const decoded = new FrameDecoder().push(stream);
    expect(decoded.map(parseAny)).toEqual(allMessages);
  });

  it("decodes every message when the stream is split at each possible byte boundary", () => {
    const stream = concatBytes(allMessages.map(encodeFrame));
    for (let split = 0; split <= stream.byteLength; split++) {
      const decoded = decodeAll([stream.subarray(0, split), stream.subarray(split)]);
      expect(decoded.map(parseAny), `split at byte ${split}`).toEqual(allMessages);
    }
  });

  it("decodes every message when the stream arrives one byte at a time", () => {
    const stream = concatBytes(allMessages.map(encodeFrame));
    const chunks = Array.from({ length: stream.byteLength }, (_, i) => stream.subarray(i, i + 1));
    expect(decodeAll(chunks).map(parseAny)).toEqual(allMessages);
  });

  it("decodes every message when the stream arrives in random uneven chunks", () => {
    const stream = concatBytes(allMessages.map(encodeFrame));
    for (const seed of [1, 2, 3, 42, 1337, 9001]) {
      const random = mulberry32(seed);
      for (const maxChunk of [3, 17, 64, 257]) {
        const chunks = unevenChunks(stream, random, maxChunk);
        expect(decodeAll(chunks).map(parseAny), `seed ${seed}, max ${maxChunk}`).toEqual(
          allMessages,
        );
      }
    }
  });

  it("returns nothing and holds the bytes back until a frame is complete", () => {
    const frame = encodeFrame({ t: "done", id: 9, output: bytes("out") });
    const decoder = new FrameDecoder();
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expect(decoder.buffered).toBe(2);
    expect(decoder.push(frame.subarray(2, frame.byteLength - 1))).toEqual([]);
    expect(decoder.buffered).toBe(frame.byteLength - 1);
    const [message] = decoder.push(frame.subarray(frame.byteLength - 1));
    expect(parseRankMessage(message)).toEqual({ t: "done", id: 9, output: bytes("out") });
    expect(decoder.buffered).toBe(0);
  });

  it("copies the incomplete tail, so a caller reusing its chunk buffer does not corrupt it", () => {
    const message: RankMessage = { t: "log", level: "debug", msg: "kept intact" };
    const frame = encodeFrame(message);
    const reused = new Uint8Array(frame.byteLength);
    const decoder = new FrameDecoder();
    const half = frame.byteLength >> 1;
    reused.set(frame.subarray(0, half));
    expect(decoder.push(reused.subarray(0, half))).toEqual([]);
    reused.fill(0xff);
    reused.set(frame.subarray(half));
    expect(decoder.push(reused.subarray(0, frame.byteLength - half))).toEqual([message]);
  });

  it("keeps decoded byte arrays intact after the chunk they arrived in is overwritten", () => {
    const chunk = encodeFrame({ t: "results", id: 1, items: [Uint8Array.of(7, 8, 9)] });
    const [message] = new FrameDecoder().push(chunk);
    chunk.fill(0);
    expect(parseRankMessage(message)).toEqual({
      t: "results",
      id: 1,
      items: [Uint8Array.of(7, 8, 9)],
    });
  });

  it("keeps every decoded message intact when the caller reuses one read buffer for each chunk", () => {
    const messages: RankMessage[] = [
      { t: "results", id: 3, items: [Uint8Array.of(1, 2, 3), Uint8Array.of(4)] },
      { t: "done", id: 3, output: bytes("the output") },
      { t: "log", level: "info", msg: "é".repeat(40) },
    ];
    const stream = concatBytes([
      encodeResultsFrame(3, [Uint8Array.of(1, 2, 3), Uint8Array.of(4)]),
      ...messages.slice(1).map(encodeFrame),
    ]);
    const readBuffer = new Uint8Array(64);
    for (const size of [1, 5, 16, 64]) {
      const decoder = new FrameDecoder();
      const out: unknown[] = [];
      for (let at = 0; at < stream.byteLength; at += size) {
        const piece = stream.subarray(at, at + size);
        readBuffer.set(piece);
        out.push(...decoder.push(readBuffer.subarray(0, piece.byteLength)));
        readBuffer.fill(0xee);
      }
      expect(
        out.map((m) => parseRankMessage(m)),
        `reads of ${size} bytes`,
      ).toEqual(messages);
    }
  });

  it("decodes a frame of several MiB that arrives in thousands of small reads", () => {
    const data = new Uint8Array(6 * 1024 * 1024).map((_, i) => i * 7);
    const frame = encodeFrame({ t: "done", id: 1, output: data });
    const decoder = new FrameDecoder();
    const out: unknown[] = [];
    for (let at = 0; at < frame.byteLength; at += 4096) {
      out.push(...decoder.push(frame.subarray(at, at + 4096)));
    }
    expect(out).toHaveLength(1);
    const message = parseRankMessage(out[0]);
    if (message.t !== "done") throw new Error(`decoded a ${message.t} message`);
    // Compared as one Buffer: an element-wise deep equality of 6 MiB takes many seconds.
    expect(Buffer.from(message.output).equals(data)).toBe(true);
    expect(decoder.buffered).toBe(0);
  });

  it("throws a ProtocolError naming the size when a length header exceeds MAX_FRAME_BYTES", () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
    const decoder = new FrameDecoder();
    expect(() => decoder.push(header)).toThrow(ProtocolError);
    expect(() => new FrameDecoder().push(header)).toThrow(
      `Frame of ${MAX_FRAME_BYTES + 1} bytes exceeds the limit of ${MAX_FRAME_BYTES}`,
    );
  });

  it("throws a ProtocolError for an oversize header that arrives split in two chunks", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(Uint8Array.of(0xff, 0xff))).toEqual([]);
    expect(() => decoder.push(Uint8Array.of(0xff, 0xff))).toThrow(
      /Frame of 4294967295 bytes exceeds the limit/,
    );
  });

  it("waits for the body of a frame exactly MAX_FRAME_BYTES long instead of rejecting it", () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES);
    const decoder = new FrameDecoder();
    expect(decoder.push(header)).toEqual([]);
    expect(decoder.buffered).toBe(4);
  });

  it("rejects an oversize header that follows a frame it already decoded", () => {
    const good = encodeFrame({ t: "ready" });
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 0xffffffff);
    const decoder = new FrameDecoder();
    expect(decoder.push(good)).toEqual([{ t: "ready" }]);
    expect(() => decoder.push(header)).toThrow(ProtocolError);
  });
});
