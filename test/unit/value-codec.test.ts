import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../../src/ipc/value-codec.ts";

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
