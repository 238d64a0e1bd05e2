import { describe, expect, it } from "vitest";
import { toJson } from "../../src/events/to-json.ts";
import { decodeValue, encodeValue } from "../../src/ipc/index.ts";

describe("toJson", () => {
  it.each([
    [0n, "0"],
    [42n, "42"],
    [-7n, "-7"],
    [BigInt(Number.MAX_SAFE_INTEGER), "9007199254740991"],
    [BigInt(Number.MIN_SAFE_INTEGER), "-9007199254740991"],
  ])("writes the safe bigint %s as a JSON number", (value, json) => {
    expect(toJson(value)).toBe(json);
  });

  it.each([
    [2n ** 53n, '"9007199254740992"'],
    [-(2n ** 53n), '"-9007199254740992"'],
    [2n ** 64n + 1n, '"18446744073709551617"'],
  ])("writes the unsafe bigint %s as a string so no digit is lost", (value, json) => {
    expect(toJson(value)).toBe(json);
  });

  it("converts bigints nested in objects and arrays", () => {
    expect(toJson({ a: [1n, { b: 2n ** 60n }] })).toBe('{"a":[1,{"b":"1152921504606846976"}]}');
  });

  it("writes typed arrays as arrays of their elements", () => {
    expect(toJson(Uint8Array.of(1, 2, 255))).toBe("[1,2,255]");
    expect(toJson(Int16Array.of(-3, 4))).toBe("[-3,4]");
    expect(toJson(Float32Array.of(0.5, -1.25))).toBe("[0.5,-1.25]");
    expect(toJson(Float64Array.of(Math.PI))).toBe(`[${Math.PI}]`);
    expect(toJson({ t: new Float64Array([1, 2]).subarray(1) })).toBe('{"t":[2]}');
  });

  it("writes non-finite typed-array elements as null, as JSON.stringify does", () => {
    expect(toJson(Float64Array.of(Number.NaN, Number.POSITIVE_INFINITY, 1))).toBe("[null,null,1]");
  });

  it("writes bigint typed arrays with the same safe/unsafe rule as bigints", () => {
    expect(toJson(BigInt64Array.of(1n, -(2n ** 63n)))).toBe('[1,"-9223372036854775808"]');
    expect(toJson(BigUint64Array.of(2n ** 64n - 1n, 5n))).toBe('["18446744073709551615",5]');
  });

  it("writes Maps as objects, converting their values too", () => {
    const map = new Map<unknown, unknown>([
      ["a", 1],
      [2, new Map([["inner", 3n]])],
      ["list", new Set([Uint8Array.of(9)])],
    ]);
    expect(toJson(map)).toBe('{"2":{"inner":3},"a":1,"list":[[9]]}');
  });

  it("writes Sets as arrays in insertion order", () => {
    expect(toJson(new Set(["b", "a", 3n]))).toBe('["b","a",3]');
  });

  it("writes an Error as its name and message only", () => {
    const error = new TypeError("nope");
    expect(toJson({ error })).toBe('{"error":{"name":"TypeError","message":"nope"}}');
  });

  it("writes null for values JSON has no text for", () => {
    expect(toJson(undefined)).toBe("null");
    expect(toJson(() => 1)).toBe("null");
    expect(toJson(Symbol("s"))).toBe("null");
  });

  it("writes Dates and plain values as JSON.stringify does", () => {
    const value = { at: new Date(0), s: "é\n", n: null, b: true, skip: undefined };
    expect(toJson(value)).toBe(JSON.stringify(value));
  });

  it("writes a result that crossed the wire as the worker's value", () => {
    const result = { step: 3, ids: new BigInt64Array([1n]), big: 2n ** 70n, tags: new Set(["x"]) };
    expect(toJson(decodeValue(encodeValue(result)))).toBe(
      '{"step":3,"ids":[1],"big":"1180591620717411303424","tags":["x"]}',
    );
  });

  it("finds what needs converting at any depth, past the plain values' quick check too", () => {
    let deep: unknown = { big: 2n ** 60n, set: new Set([1]) };
    for (let i = 0; i < 40; i++) deep = i % 2 === 0 ? [deep] : { d: deep };
    const json = toJson(deep);
    expect(json).toContain('"big":"1152921504606846976","set":[1]');
    let plain: unknown = { n: 1 };
    for (let i = 0; i < 40; i++) plain = { d: plain };
    expect(toJson(plain)).toBe(JSON.stringify(plain));
  });

  it("converts what a toJSON() returns, and values of objects without a prototype", () => {
    const withToJson = { toJSON: () => new Map([["a", 1n]]) };
    expect(toJson({ v: withToJson })).toBe('{"v":{"a":1}}');
    const bare = Object.assign(Object.create(null) as object, { n: 2n ** 64n, ok: true });
    expect(toJson(bare)).toBe('{"n":"18446744073709551616","ok":true}');
    class Row {
      constructor(readonly id = 7n) {}
    }
    expect(toJson([new Row()])).toBe('[{"id":7}]');
  });

  it("writes plain values exactly as JSON.stringify does", () => {
    const holes: number[] = [];
    holes[0] = 1;
    holes[2] = 3;
    const value = {
      s: 'é\u2028\n"',
      n: [0, -0, 1.5e300, Number.NaN, Number.POSITIVE_INFINITY],
      nested: { a: [null, true, false, undefined, () => 1], b: {} },
      holes,
      skip: undefined,
    };
    expect(toJson(value)).toBe(JSON.stringify(value));
  });

  it("throws on a cycle as JSON.stringify does", () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { back: cycle };
    expect(() => toJson(cycle)).toThrow(TypeError);
  });

  // JSON.stringify calls Buffer's own toJSON() before a replacer sees the value, which would write
  // {"type":"Buffer","data":[...]}; a worker's Buffer result reaches the server as a Buffer (msgpackr
  // decodes it so), and clients must get the same array any other Uint8Array gives.
  it("writes a Buffer result as an array, like any other Uint8Array", () => {
    expect(toJson(decodeValue(encodeValue({ png: Buffer.from([1, 2]) })))).toBe('{"png":[1,2]}');
  });
});
