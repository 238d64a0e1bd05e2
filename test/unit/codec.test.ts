import { describe, expect, it } from "vitest";
import { ProtocolError, type SerializedError } from "../../src/errors.ts";
import {
  decodeValue,
  encodeFrame,
  encodeResultFrame,
  encodeResultsFrame,
  encodeValue,
  FrameDecoder,
  MAX_FRAME_BYTES,
  parseRankMessage,
  parseRunnerMessage,
} from "../../src/ipc/codec.ts";
import type { RankMessage, RunnerMessage } from "../../src/ipc/messages.ts";
import { concatBytes, mulberry32, unevenChunks } from "./support/prng.ts";

const bytes = (value: unknown): Uint8Array => new Uint8Array(encodeValue(value));

// Stackless, so the test titles that print messages stay short.
const error: SerializedError = { name: "TypeError", code: "E_BAD", message: "bad input", rank: 1 };

const runnerMessages: RunnerMessage[] = [
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
  },
  { t: "cancel", id: 2, reason: error },
  { t: "stop" },
];

const rankMessages: RankMessage[] = [
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

const allMessages: (RunnerMessage | RankMessage)[] = [...runnerMessages, ...rankMessages];

function parseAny(value: unknown): RunnerMessage | RankMessage {
  const t = (value as { t?: unknown }).t;
  return runnerMessages.some((m) => m.t === t)
    ? parseRunnerMessage(value)
    : parseRankMessage(value);
}

function decodeAll(chunks: readonly Uint8Array[]): unknown[] {
  const decoder = new FrameDecoder();
  const out = chunks.flatMap((chunk) => decoder.push(chunk));
  expect(decoder.buffered).toBe(0);
  return out;
}

describe("encodeFrame", () => {
  it("prefixes the MessagePack body with its length as a 4-byte big-endian integer", () => {
    const frame = encodeFrame({ t: "log", level: "info", msg: "x".repeat(300) });
    const length = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0);
    expect(length).toBe(frame.byteLength - 4);
    expect(length).toBeGreaterThan(255);
    expect(decodeValue(frame.subarray(4))).toEqual({
      t: "log",
      level: "info",
      msg: "x".repeat(300),
    });
  });
});

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

describe("encodeResultFrame (one result, encoded into its frame)", () => {
  it("gives the bytes encodeResultsFrame gives for that result alone, whatever its size", () => {
    const values: unknown[] = [
      { i: 0, sent: 1234.5 },
      null,
      "é".repeat(5000),
      new Float32Array([1, 2, 3]),
      Array.from({ length: 3000 }, (_, i) => ({ i })),
    ];
    // Several rounds, so some frames start near the end of MessagePack's shared buffer.
    for (let round = 0; round < 20; round++) {
      for (const value of values) {
        const frame = encodeResultFrame(round, value);
        expect([...frame]).toEqual([...encodeResultsFrame(round, [encodeValue(value)])]);
      }
    }
  });

  it("keeps the frame intact while later values are encoded", () => {
    const frame = encodeResultFrame(1, { kept: "intact" });
    const before = [...frame];
    for (let i = 0; i < 2000; i++) encodeValue({ filler: "y".repeat(i % 50) });
    expect([...frame]).toEqual(before);
  });
});

describe("encodeResultsFrame (the raw layout of results frames)", () => {
  const items = [encodeValue({ i: 0 }), new Uint8Array(0), encodeValue("é".repeat(300))];

  it("decodes to the same message a MessagePack frame gives, across any chunk boundaries", () => {
    const frames = concatBytes([
      encodeResultsFrame(7, items),
      encodeFrame({ t: "log", level: "info", msg: "between" }),
      encodeResultsFrame(8, []),
    ]);
    const random = mulberry32(11);
    for (let round = 0; round < 50; round++) {
      const decoder = new FrameDecoder();
      const out = unevenChunks(frames, random, 17).flatMap((chunk) => decoder.push(chunk));
      const bytes = (m: unknown) => {
        const message = parseRankMessage(m);
        return message.t === "results"
          ? { ...message, items: message.items.map((item) => [...item]) }
          : message;
      };
      expect(out.map(bytes)).toEqual([
        { t: "results", id: 7, items: items.map((item) => [...item]) },
        { t: "log", level: "info", msg: "between" },
        { t: "results", id: 8, items: [] },
      ]);
      expect(decoder.buffered).toBe(0);
    }
  });

  it("carries latest-wins keys (UTF-8, empty, or none) beside their items", () => {
    const keys = ["preview", null, "", "é-ключ"];
    const frames = concatBytes([
      encodeResultsFrame(5, [...items, encodeValue(4)], keys),
      encodeResultsFrame(6, [encodeValue("alone")], [null]),
    ]);
    const random = mulberry32(5);
    for (let round = 0; round < 30; round++) {
      const decoder = new FrameDecoder();
      const out = unevenChunks(frames, random, 13)
        .flatMap((chunk) => decoder.push(chunk))
        .map((m) => {
          const message = parseRankMessage(m);
          if (message.t !== "results") throw new Error(`decoded a ${message.t} message`);
          return { ...message, items: message.items.map((item) => [...item]) };
        });
      expect(out).toEqual([
        { t: "results", id: 5, items: [...items, encodeValue(4)].map((i) => [...i]), keys },
        { t: "results", id: 6, items: [[...encodeValue("alone")]], keys: [null] },
      ]);
    }
  });

  it("rejects a key that runs past the frame, or is not UTF-8", () => {
    const frame = encodeResultsFrame(1, [Uint8Array.of(9)], ["ab"]);
    const long = frame.slice();
    new DataView(long.buffer).setUint32(4 + 9, 50);
    expect(() => new FrameDecoder().push(long)).toThrow(/key 0 of 1 runs past its end/);
    const invalid = frame.slice();
    invalid.set([0xff, 0xfe], 4 + 9 + 4);
    expect(() => new FrameDecoder().push(invalid)).toThrow(
      "Results frame: key 0 of 1 is not UTF-8",
    );
  });

  it("is passed through by parseRankMessage as decoded, while a MessagePack one is checked", () => {
    const [raw] = new FrameDecoder().push(encodeResultsFrame(3, items, [null, "k", null]));
    expect(parseRankMessage(raw)).toBe(raw);
    const [packed] = new FrameDecoder().push(encodeFrame({ t: "results", id: 3, items: [] }));
    expect(parseRankMessage(packed)).not.toBe(packed);
    expect(() => parseRankMessage({ t: "results", id: 3, items: ["not bytes"] })).toThrow(
      ProtocolError,
    );
  });

  it("gives plain Uint8Array items, even from a Buffer chunk", () => {
    const [message] = new FrameDecoder().push(Buffer.from(encodeResultsFrame(1, items)));
    const decoded = parseRankMessage(message) as unknown as { items: Uint8Array[] };
    expect(decoded.items.every((item) => item.constructor === Uint8Array)).toBe(true);
    expect(decodeValue(decoded.items[2] as Uint8Array)).toBe("é".repeat(300));
  });

  it("rejects an item that runs past the frame, and bytes after the last item", () => {
    const frame = encodeResultsFrame(1, [new Uint8Array([1, 2, 3])]);
    const view = new DataView(frame.buffer);
    const lying = frame.slice();
    new DataView(lying.buffer).setUint32(4 + 9, 50);
    expect(() => new FrameDecoder().push(lying)).toThrow(/item 0 of 1 runs past its end/);
    const moreItems = frame.slice();
    new DataView(moreItems.buffer).setUint32(4 + 5, 2);
    expect(() => new FrameDecoder().push(moreItems)).toThrow(/item 1 of 2 runs past its end/);
    const fewer = frame.slice();
    new DataView(fewer.buffer).setUint32(4 + 5, 0);
    expect(() => new FrameDecoder().push(fewer)).toThrow(/7 bytes after its last item/);
    const short = new Uint8Array([0, 0, 0, 3, 0xc1, 0, 0]);
    expect(() => new FrameDecoder().push(short)).toThrow(/Truncated results frame of 3 bytes/);
    expect(view.getUint32(0)).toBe(frame.byteLength - 4);
  });
});

describe("encodeValue / decodeValue", () => {
  const roundTrip = (value: unknown): unknown => decodeValue(encodeValue(value));

  it.each([
    ["Int8Array", Int8Array.of(-128, -1, 0, 127)],
    ["Uint8Array", Uint8Array.of(0, 1, 254, 255)],
    ["Uint8ClampedArray", Uint8ClampedArray.of(0, 128, 255)],
    ["Int16Array", Int16Array.of(-32768, 0, 32767)],
    ["Uint16Array", Uint16Array.of(0, 65535)],
    ["Int32Array", Int32Array.of(-2147483648, 0, 2147483647)],
    ["Uint32Array", Uint32Array.of(0, 4294967295)],
    ["Float32Array", Float32Array.of(0.1, -0.5, Number.POSITIVE_INFINITY, 3.4e38)],
    ["Float64Array", Float64Array.of(Math.PI, -Number.MIN_VALUE, Number.MAX_VALUE, Number.NaN)],
    ["BigInt64Array", BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n)],
    ["BigUint64Array", BigUint64Array.of(0n, 2n ** 64n - 1n)],
  ])("keeps a %s's class and every element", (_name, array) => {
    const decoded = roundTrip(array);
    expect(decoded).toBeInstanceOf(array.constructor);
    expect(Object.is((decoded as ArrayLike<unknown>).length, array.length)).toBe(true);
    expect(decoded).toEqual(array);
  });

  it("sends only the elements a typed-array view covers, not its whole buffer", () => {
    const whole = Float64Array.of(1, 2, 3, 4, 5);
    const view = whole.subarray(1, 3);
    const decoded = roundTrip(view);
    expect(decoded).toBeInstanceOf(Float64Array);
    expect(Array.from(decoded as Float64Array)).toEqual([2, 3]);
  });

  it.each([
    0n,
    1n,
    -1n,
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 64n - 1n,
    2n ** 70n,
    -(2n ** 100n),
  ])("keeps the bigint %s a bigint with the same value", (value) => {
    expect(roundTrip(value)).toBe(value);
  });

  it("keeps Sets, Dates, nested arrays and objects, strings with any characters, and undefined fields", () => {
    const value = {
      tags: new Set(["a", "b"]),
      at: new Date(1_700_000_000_123),
      nested: { deep: [[1, [2, { x: "é😀\u0000\n" }]], null, true, -0.25] },
      missing: undefined,
      big: 12345678901234567890n,
      tensor: { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
    };
    const decoded = roundTrip(value) as typeof value;
    expect(decoded).toEqual(value);
    expect(decoded.tags).toBeInstanceOf(Set);
    expect(decoded.at).toBeInstanceOf(Date);
    expect(decoded.tensor.data).toBeInstanceOf(Float32Array);
    expect("missing" in decoded).toBe(true);
  });

  // Frames carry no records, so msgpackr cannot tell a Map from an object: a Map arrives as a
  // plain object, as it would through JSON; assertSendable rejects Maps whose keys would not survive.
  it("delivers a Map with string or number keys as a plain object", () => {
    const value = new Map<unknown, unknown>([
      ["a", 1],
      [2, new Map([["inner", 3n]])],
    ]);
    expect(roundTrip(value)).toEqual({ a: 1, "2": { inner: 3n } });
  });
});

describe("parseRankMessage", () => {
  it("returns only the fields of the message type, dropping unknown extras", () => {
    expect(parseRankMessage({ t: "ready", extra: 1 })).toEqual({ t: "ready" });
    expect(parseRankMessage({ t: "done", id: 1, output: bytes(1), sneaky: true })).toStrictEqual({
      t: "done",
      id: 1,
      output: bytes(1),
    });
  });

  it.each([
    [null, "Expected a message object, got null"],
    [undefined, "Expected a message object, got undefined"],
    [42, "Expected a message object, got number"],
    ["ready", "Expected a message object, got string"],
    [[{ t: "ready" }], "Expected a message object, got an array"],
  ])("rejects the non-object %j with a ProtocolError", (value, message) => {
    expect(() => parseRankMessage(value)).toThrow(ProtocolError);
    expect(() => parseRankMessage(value)).toThrow(message);
  });

  it.each([
    [{ t: "bogus" }, 'Unknown message type "bogus" from a rank'],
    [{}, "Unknown message type undefined from a rank"],
    [{ t: 1 }, "Unknown message type 1 from a rank"],
    [{ t: "call", id: 1 }, 'Unknown message type "call" from a rank'],
  ])("rejects %j, whose type is unknown from a rank, naming the type", (value, message) => {
    expect(() => parseRankMessage(value)).toThrow(ProtocolError);
    expect(() => parseRankMessage(value)).toThrow(message);
  });

  const withId: Record<string, Record<string, unknown>> = {
    results: { t: "results", items: [] },
    streamError: { t: "streamError", error },
    done: { t: "done", output: bytes(null) },
    failed: { t: "failed", error, aborted: false },
  };
  const badIds: unknown[] = [undefined, 0, -1, 1.5, "1", Number.NaN, 2 ** 53, null];

  for (const [t, base] of Object.entries(withId)) {
    it(`rejects a ${t} message whose id is missing, zero, negative, fractional, a string or unsafe`, () => {
      for (const id of badIds) {
        const value = id === undefined ? base : { ...base, id };
        expect(() => parseRankMessage(value), `id ${String(id)}`).toThrow(
          new ProtocolError(`Malformed "${t}" message: \`id\` must be a positive integer`),
        );
      }
      expect(parseRankMessage({ ...base, id: 1 })).toMatchObject({ t, id: 1 });
      expect(parseRankMessage({ ...base, id: 2 ** 53 - 1 })).toMatchObject({ t, id: 2 ** 53 - 1 });
    });
  }

  it.each([
    [{ t: "setupFailed" }, "`error` must be an error object"],
    [{ t: "setupFailed", error: "boom" }, "`error` must be an error object"],
    [{ t: "setupFailed", error: { name: "E" } }, "`error` must have a string name and message"],
    [{ t: "streamError", id: 1, error: null }, "`error` must be an error object"],
    [
      { t: "streamError", id: 1, error: { name: 1, message: "m" } },
      "`error` must have a string name and message",
    ],
    [{ t: "results", id: 1 }, "`items` must be an array of byte arrays"],
    [{ t: "results", id: 1, items: "abc" }, "`items` must be an array of byte arrays"],
    [{ t: "results", id: 1, items: [[1, 2]] }, "`items` must be an array of byte arrays"],
    [
      { t: "results", id: 1, items: [bytes(1)], keys: ["a", "b"] },
      "`keys` must be an array of strings or nulls, one per item",
    ],
    [
      { t: "results", id: 1, items: [bytes(1)], keys: [7] },
      "`keys` must be an array of strings or nulls, one per item",
    ],
    [
      { t: "results", id: 1, items: [bytes(1)], keys: "a" },
      "`keys` must be an array of strings or nulls, one per item",
    ],
    [{ t: "done", id: 1 }, "`output` must be bytes"],
    [{ t: "done", id: 1, output: "out" }, "`output` must be bytes"],
    [{ t: "failed", id: 1, error }, "`aborted` must be a boolean"],
    [{ t: "failed", id: 1, error, aborted: "no" }, "`aborted` must be a boolean"],
    [{ t: "failed", id: 1, aborted: false }, "`error` must be an error object"],
    [{ t: "log", level: "trace", msg: "m" }, "`level` and `msg` must be a log level and a string"],
    [{ t: "log", level: "info", msg: 5 }, "`level` and `msg` must be a log level and a string"],
    [{ t: "log", msg: "m" }, "`level` and `msg` must be a log level and a string"],
  ])("rejects %j with a ProtocolError that names the bad field", (value, problem) => {
    const expected = `Malformed ${JSON.stringify(value.t)} message: ${problem}`;
    expect(() => parseRankMessage(value)).toThrow(ProtocolError);
    expect(() => parseRankMessage(value)).toThrow(expected);
  });

  it("accepts results with null keys and with no keys at all, keeping keys absent when absent", () => {
    const items = [bytes(1), bytes(2)];
    expect(parseRankMessage({ t: "results", id: 1, items, keys: [null, null] })).toEqual({
      t: "results",
      id: 1,
      items,
      keys: [null, null],
    });
    expect("keys" in parseRankMessage({ t: "results", id: 1, items })).toBe(false);
  });

  it("gives parse errors the PROTOCOL_ERROR code", () => {
    try {
      parseRankMessage({ t: "nope" });
      expect.unreachable();
    } catch (thrown) {
      expect(thrown).toBeInstanceOf(ProtocolError);
      expect((thrown as ProtocolError).code).toBe("PROTOCOL_ERROR");
    }
  });
});

describe("parseRunnerMessage", () => {
  it.each([
    [null, "Expected a message object, got null"],
    [7, "Expected a message object, got number"],
    [[], "Expected a message object, got an array"],
  ])("rejects the non-object %j with a ProtocolError", (value, message) => {
    expect(() => parseRunnerMessage(value)).toThrow(ProtocolError);
    expect(() => parseRunnerMessage(value)).toThrow(message);
  });

  it.each([
    [{ t: "ready" }, 'Unknown message type "ready" from the runner'],
    [{ t: "STOP" }, 'Unknown message type "STOP" from the runner'],
    [{ id: 1 }, "Unknown message type undefined from the runner"],
  ])("rejects %j, whose type is unknown from the runner, naming the type", (value, message) => {
    expect(() => parseRunnerMessage(value)).toThrow(ProtocolError);
    expect(() => parseRunnerMessage(value)).toThrow(message);
  });

  const call = {
    t: "call",
    requestId: "r",
    payload: bytes(1),
    streaming: false,
    imageFormat: "jpeg",
  };
  const cancel = { t: "cancel", reason: error };

  it.each([
    ["call", call],
    ["cancel", cancel],
  ])(
    "rejects a %s message whose id is missing, zero, negative, fractional or a string",
    (t, base) => {
      for (const id of [undefined, 0, -1, 1.5, "1", Number.POSITIVE_INFINITY]) {
        const value = id === undefined ? base : { ...base, id };
        expect(() => parseRunnerMessage(value), `id ${String(id)}`).toThrow(
          new ProtocolError(`Malformed "${t}" message: \`id\` must be a positive integer`),
        );
      }
    },
  );

  const config = {
    streamAllRanks: false,
    maxPendingBytes: 10,
    highWaterMark: 2,
    collectiveTimeout: 1000,
  };

  it.each([
    [{ t: "init", worker: 5, config }, "`worker` must be a string"],
    [
      { t: "init", worker: "w", config: { ...config, highWaterMark: "2" } },
      "`config` is incomplete",
    ],
    [
      {
        t: "init",
        worker: "w",
        config: { streamAllRanks: 1, maxPendingBytes: 1, highWaterMark: 1 },
      },
      "`config` is incomplete",
    ],
    [
      { t: "init", worker: "w", config: { streamAllRanks: true, highWaterMark: 1 } },
      "`config` is incomplete",
    ],
    [
      { ...call, id: 1, requestId: 7 },
      "`requestId` and `streaming` must be a string and a boolean",
    ],
    [
      { ...call, id: 1, streaming: "yes" },
      "`requestId` and `streaming` must be a string and a boolean",
    ],
    [{ ...call, id: 1, payload: [1] }, "`payload` must be bytes"],
    [{ ...call, id: 1, payload: undefined }, "`payload` must be bytes"],
    [{ ...call, id: 1, imageFormat: "gif" }, "`imageFormat` must be jpeg, png or webp"],
    [{ ...call, id: 1, imageFormat: undefined }, "`imageFormat` must be jpeg, png or webp"],
    [{ t: "cancel", id: 1 }, "`reason` must be an error object"],
    [
      { t: "cancel", id: 1, reason: { message: "m" } },
      "`reason` must have a string name and message",
    ],
  ])("rejects %j with a ProtocolError that names the bad field", (value, problem) => {
    const expected = `Malformed ${JSON.stringify(value.t)} message: ${problem}`;
    expect(() => parseRunnerMessage(value)).toThrow(ProtocolError);
    expect(() => parseRunnerMessage(value)).toThrow(expected);
  });

  it("rejects an init message without a config object with a ProtocolError", () => {
    expect(() => parseRunnerMessage({ t: "init", worker: "w" })).toThrow(ProtocolError);
    expect(() => parseRunnerMessage({ t: "init", worker: "w", config: [] })).toThrow(ProtocolError);
  });

  // BUG (src/ipc/codec.ts, parseRunnerMessage "init"): a missing or non-object `config` is
  // checked with asRecord(), whose message ("Expected a message object, got undefined") neither
  // says the message is a malformed init nor names `config`.
  it("names `config` when an init message has none", () => {
    expect(() => parseRunnerMessage({ t: "init", worker: "w" })).toThrow(/config/);
  });

  it("keeps only the known config fields of an init message", () => {
    const parsed = parseRunnerMessage({
      t: "init",
      worker: "file:///w.ts",
      setup: undefined,
      config: { ...config, secret: "x" },
      other: 1,
    });
    expect(parsed).toStrictEqual({ t: "init", worker: "file:///w.ts", setup: undefined, config });
  });
});
