import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { Image } from "../../src/encoding/image.ts";
import { Tensor } from "../../src/encoding/tensor.ts";
import { decodeValue, encodeValue } from "../../src/ipc/index.ts";
import { decodePlain, NOT_PLAIN } from "../../src/ipc/plain-decode.ts";
import { NUMBERS, randomPlain, WELL_FORMED } from "./support/plain-values.ts";
import { mulberry32 } from "./support/prng.ts";

/** troupe's msgpackr options, for decoding as the general path does. */
const packr = new Packr({ moreTypes: true, useRecords: false });

/** Checks that the short path gives exactly what msgpackr gives for the bytes. */
function expectSameAsMsgpackr(bytes: Uint8Array, label: string): void {
  const plain = decodePlain(bytes);
  expect(plain, label).not.toBe(NOT_PLAIN);
  // toEqual tells -0 from 0 and compares NaN to NaN, as Object.is does.
  expect(plain, label).toEqual(packr.unpack(bytes));
}

describe("decodePlain", () => {
  it("gives msgpackr's value for every kind of number", () => {
    for (const value of NUMBERS) expectSameAsMsgpackr(encodeValue(value), String(value));
  });

  it("gives msgpackr's value for strings of every header size and multi-byte text", () => {
    for (const value of [...WELL_FORMED, "\ufeffa byte-order mark first"]) {
      expectSameAsMsgpackr(encodeValue(value), JSON.stringify(value.slice(0, 20)));
    }
  });

  it("gives msgpackr's value for 500 random plain values (seeded)", () => {
    const random = mulberry32(7);
    for (let i = 0; i < 500; i++)
      expectSameAsMsgpackr(encodeValue(randomPlain(random, 0, WELL_FORMED)), `value ${i}`);
  });

  it("reads the shorter headers other encoders write (fixmap, int8, str8 for a short string)", () => {
    // { a: -5, b: "hi" } as fixmap, with -5 as int8 and "hi" as str 8.
    const bytes = Uint8Array.of(0x82, 0xa1, 0x61, 0xd0, 0xfb, 0xa1, 0x62, 0xd9, 2, 0x68, 0x69);
    expectSameAsMsgpackr(bytes, "fixmap");
    expect(decodePlain(bytes)).toEqual({ a: -5, b: "hi" });
  });

  it("leaves to msgpackr what is not plain data, or not well-formed", () => {
    const cases: [string, Uint8Array][] = [
      ["bytes", encodeValue(new Uint8Array([1, 2]))],
      [
        "an Image",
        encodeValue(Image.fromPixels(new Uint8Array(3), { width: 1, height: 1, channels: 3 })),
      ],
      ["a Tensor", encodeValue(new Tensor(new Float32Array(2), [2]))],
      ["a Date", encodeValue(new Date(0))],
      ["a 64-bit integer", encodeValue(2n ** 60n)],
      ["a float32", Uint8Array.of(0xca, 0x3f, 0xc0, 0, 0)],
      [
        "a __proto__ key (msgpackr renames it)",
        Uint8Array.of(0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 1),
      ],
      ["a number as a key", Uint8Array.of(0x81, 0x01, 0x02)],
      ["a lone surrogate", encodeValue("lone \ud800")],
      ["malformed UTF-8", Uint8Array.of(0xa2, 0xc3, 0x28)],
      ["a truncated value", encodeValue({ step: 1 }).subarray(0, 4)],
      ["bytes after the value", Uint8Array.of(0x01, 0x02)],
      ["nothing", new Uint8Array(0)],
      ["an array that claims more items than bytes", Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)],
    ];
    for (const [label, bytes] of cases) expect(decodePlain(bytes), label).toBe(NOT_PLAIN);
  });

  it("gives up past 64 levels of nesting, which msgpackr then decodes", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 65; i++) deep = [deep];
    const bytes = encodeValue(deep);
    expect(decodePlain(bytes)).toBe(NOT_PLAIN);
    expect(decodeValue(bytes)).toEqual(deep);
  });
});

describe("decodeValue", () => {
  it("decodes plain data by the short path and the rest by msgpackr, to the same values", () => {
    const values: unknown[] = [
      { step: 3, progress: 0.5, label: "denoising" },
      { tensor: new Tensor(new Float64Array([1, 2]), [2]), step: 1 },
      { bytes: new Uint8Array([9]) },
      "lone \udc00 surrogate",
    ];
    for (const value of values) {
      const bytes = encodeValue(value);
      expect(decodeValue(bytes)).toEqual(packr.unpack(bytes));
    }
  });
});
