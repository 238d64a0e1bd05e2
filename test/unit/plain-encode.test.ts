import { describe, expect, it } from "vitest";
import { Image } from "../../src/encoding/image.ts";
import { Tensor } from "../../src/encoding/tensor.ts";
import { FrameDecoder } from "../../src/ipc/frame-decoder.ts";
import { encodeResultFrame, encodeResultsFrame } from "../../src/ipc/results-frame.ts";
import { decodeValue, encodeValue } from "../../src/ipc/value-codec.ts";
import { NUMBERS, randomPlain, STRINGS } from "./support/plain-values.ts";
import { mulberry32 } from "./support/prng.ts";

/**
 * The frame of the plain branch of encodeResultFrame, as bytes to compare (it is a view of a
 * buffer the next call reuses).
 */
function plain(id: number, value: unknown): number[] | undefined {
  const frame = encodePlainResultFrame(id, value);
  return frame === undefined ? undefined : [...frame];
}

/** With `plainOnly`, encodeResultFrame takes the plain branch or gives up. */
function encodePlainResultFrame(id: number, value: unknown): Uint8Array | undefined {
  return encodeResultFrame(id, value, true);
}

/** The frame msgpackr's bytes make: the reference the plain branch must match byte for byte. */
function referenceFrame(id: number, value: unknown): Uint8Array {
  return encodeResultsFrame(id, [encodeValue(value)]);
}

function reference(id: number, value: unknown): number[] {
  return [...referenceFrame(id, value)];
}

describe("encodeResultFrame's plain branch", () => {
  it("writes msgpackr's bytes for every kind of number", () => {
    for (const value of NUMBERS)
      expect(plain(1, value), String(value)).toEqual(reference(1, value));
  });

  it("writes msgpackr's bytes for strings of every header size, multi-byte text and lone surrogates", () => {
    for (const value of STRINGS) {
      expect(plain(2, value), JSON.stringify(value.slice(0, 20))).toEqual(reference(2, value));
    }
  });

  it("writes msgpackr's bytes for null, booleans, undefined, holes and array and object sizes", () => {
    const holey: unknown[] = [1];
    holey[2] = 3;
    const values: unknown[] = [
      null,
      true,
      false,
      undefined,
      [],
      {},
      holey, // a hole: undefined
      Array.from({ length: 15 }, (_, i) => i),
      Array.from({ length: 16 }, (_, i) => i),
      Array.from({ length: 70_000 }, (_, i) => i & 0xff),
      Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])),
      Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
      { nested: { deeper: [{ step: 3, progress: 0.75, note: "ok" }] }, undefinedValue: undefined },
    ];
    for (const value of values) expect(plain(3, value)).toEqual(reference(3, value));
  });

  it("writes msgpackr's bytes for 500 random plain values (seeded)", () => {
    const random = mulberry32(2026);
    for (let i = 0; i < 500; i++) {
      const value = randomPlain(random, 0);
      expect(plain(i, value), `value ${i}`).toEqual(reference(i, value));
    }
  });

  it("makes a frame the runner decodes to the value", () => {
    const value = { step: 7, of: 20, label: "sampling", losses: [0.5, 0.25], done: false };
    const frame = encodePlainResultFrame(42, value) as Uint8Array;
    const [message] = new FrameDecoder().push(frame) as [{ id: number; items: Uint8Array[] }];
    expect(message.id).toBe(42);
    expect(message.items.map((item) => decodeValue(item))).toEqual([value]);
  });

  it("gives up on anything but plain data, so the general branch checks and encodes it", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    let deep: unknown = 1;
    for (let i = 0; i < 65; i++) deep = [deep];
    class Point {
      x = 1;
    }
    const notPlain: unknown[] = [
      new Uint8Array(3),
      new Float32Array(2),
      new ArrayBuffer(4),
      new Date(0),
      new Map([["a", 1]]),
      new Set([1]),
      new Point(),
      Object.create(null),
      { constructor: "not Object" },
      () => 1,
      Symbol("s"),
      10n,
      cycle,
      deep,
      Image.fromPixels(new Uint8Array(3), { width: 1, height: 1, channels: 3 }),
      new Tensor(new Float32Array(2), [2]),
      { ok: 1, nested: [{ bad: new Uint8Array(1) }] },
    ];
    for (const value of notPlain) expect(encodePlainResultFrame(1, value)).toBeUndefined();
  });

  it("encodes 64 levels of nesting, and a value after one that gave up", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 64; i++) deep = [deep];
    expect(plain(1, deep)).toEqual(reference(1, deep));
    expect(encodePlainResultFrame(1, [deep])).toBeUndefined();
    expect(plain(2, { after: "giving up" })).toEqual(reference(2, { after: "giving up" }));
  });

  it("grows its buffer for a large value and encodes the next one right", () => {
    const large = { text: "y".repeat(3_000_000), list: Array.from({ length: 1000 }, (_, i) => i) };
    const frame = encodePlainResultFrame(1, large) as Uint8Array;
    // Compared as Buffers: an element-wise deep equality of 3 MB takes seconds.
    expect(Buffer.from(frame).equals(referenceFrame(1, large))).toBe(true);
    expect(plain(2, { small: true })).toEqual(reference(2, { small: true }));
  });
});
