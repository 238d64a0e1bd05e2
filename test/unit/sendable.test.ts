import { describe, expect, it } from "vitest";
import { ErrorCode, InvalidPayloadError } from "../../src/errors.ts";
import { assertSendable } from "../../src/internal/sendable.ts";

function problemOf(value: unknown, label = "payload"): InvalidPayloadError {
  try {
    assertSendable(value, label);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPayloadError);
    return error as InvalidPayloadError;
  }
  throw new Error("Expected assertSendable to throw");
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe("assertSendable", () => {
  describe("rejects", () => {
    it("a function, naming its path through objects and arrays", () => {
      const error = problemOf({ a: { b: [1, 2, () => 3] } });
      expect(error.code).toBe(ErrorCode.INVALID_PAYLOAD);
      expect(error.message).toBe(
        "Expected `payload.a.b[2]` to be data that can be sent to another process, got a function",
      );
    });

    it("a function at the root, naming the label", () => {
      expect(problemOf(() => 1, "result").message).toBe(
        "Expected `result` to be data that can be sent to another process, got a function",
      );
    });

    it("a symbol", () => {
      expect(problemOf({ tag: Symbol("t") }).message).toBe(
        "Expected `payload.tag` to be data that can be sent to another process, got a symbol",
      );
    });

    it("an object that contains itself", () => {
      const node: Record<string, unknown> = { name: "root" };
      node.self = node;
      expect(problemOf(node).message).toBe(
        "Expected `payload.self` to be data that can be sent to another process, got a reference cycle",
      );
    });

    it("a cycle several levels deep, naming where it closes", () => {
      const root: Record<string, unknown> = {};
      root.child = { list: [0, { back: root }] };
      expect(problemOf(root).message).toContain("`payload.child.list[1].back`");
      expect(problemOf(root).message).toContain("reference cycle");
    });

    it("an array that contains itself", () => {
      const list: unknown[] = [1];
      list.push(list);
      expect(problemOf(list).message).toBe(
        "Expected `payload[1]` to be data that can be sent to another process, got a reference cycle",
      );
    });

    it("a cycle through a Map", () => {
      const map = new Map<string, unknown>();
      map.set("me", map);
      expect(problemOf(map).message).toContain("`payload.get(me)`");
      expect(problemOf(map).message).toContain("reference cycle");
    });

    it("a class instance, naming its class", () => {
      expect(problemOf({ at: [new Point(1, 2)] }).message).toBe(
        "Expected `payload.at[0]` to be plain data that can be sent to another process, got an instance of Point",
      );
    });

    it("instances of non-data built-ins such as URL and Promise", () => {
      expect(problemOf({ url: new URL("https://x.test") }).message).toContain("instance of URL");
      expect(problemOf({ p: Promise.resolve(1) }).message).toContain("instance of Promise");
    });

    it("a function inside a Map value, a Map key or a Set", () => {
      const fn = () => 0;
      expect(problemOf(new Map([["k", fn]])).message).toContain("`payload.get(k)`");
      expect(problemOf(new Map([[fn, 1]])).message).toContain("keys of Map `payload`");
      expect(problemOf(new Set([1, fn])).message).toContain("`payload.<set item 1>`");
    });

    it("with the first problem found, in property order", () => {
      expect(problemOf({ ok: 1, first: () => 1, second: Symbol() }).message).toContain(
        "`payload.first`",
      );
    });
  });

  describe("accepts", () => {
    it.each([
      ["undefined", undefined],
      ["null", null],
      ["a number", 1.5],
      ["NaN", Number.NaN],
      ["a string", "text"],
      ["a boolean", false],
      ["a bigint", 2n ** 80n],
    ])("%s", (_what, value) => {
      expect(() => assertSendable(value, "payload")).not.toThrow();
    });

    it("nested plain objects and arrays", () => {
      expect(() =>
        assertSendable({ a: [1, { b: [[], {}] }], c: { d: { e: "f" } } }, "payload"),
      ).not.toThrow();
    });

    it("typed arrays, ArrayBuffers, DataViews and Dates", () => {
      const value = {
        f32: new Float32Array(4),
        u8: Uint8Array.of(1),
        big: new BigInt64Array(2),
        buffer: new ArrayBuffer(8),
        view: new DataView(new ArrayBuffer(4)),
        node: Buffer.from("x"),
        at: new Date(0),
      };
      expect(() => assertSendable(value, "payload")).not.toThrow();
    });

    it("Maps and Sets of plain data", () => {
      const value = new Map<unknown, unknown>([
        ["a", new Set([1, 2, { x: 1 }])],
        [2, [3]],
      ]);
      expect(() => assertSendable(value, "payload")).not.toThrow();
    });

    it("objects without a prototype", () => {
      const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
      expect(() => assertSendable({ bare }, "payload")).not.toThrow();
    });

    it("the same object referenced twice without a cycle", () => {
      const shared = { weights: [1, 2, 3] };
      const value = {
        left: shared,
        right: shared,
        list: [shared, shared],
        deep: { again: shared },
      };
      expect(() => assertSendable(value, "payload")).not.toThrow();
    });

    it("the same array referenced from sibling entries of an array", () => {
      const row = [1, 2];
      expect(() => assertSendable([row, row, [row]], "payload")).not.toThrow();
    });
  });
});

describe("Map keys", () => {
  it("rejects a Map whose key is an object, since a Map arrives as a plain object", () => {
    expect(() => assertSendable({ lookup: new Map([[{ id: 1 }, "x"]]) }, "payload")).toThrow(
      "Expected the keys of Map `payload.lookup` to be strings or numbers (a Map arrives as a plain object), got an object",
    );
  });
});

describe("structures deeper than the fast walk", () => {
  /** `{ next: { next: ... { leaf } } }`, `depth` levels down. */
  function chain(depth: number, leaf: unknown): Record<string, unknown> {
    let node: Record<string, unknown> = { leaf };
    for (let i = 0; i < depth; i++) node = { next: node };
    return node;
  }

  it("accepts 200 levels of nesting without a cycle", () => {
    expect(assertSendable(chain(200, 1), "payload")).toBe(false);
  });

  it("finds and names a cycle that closes 100 levels down", () => {
    const root = chain(100, null);
    let node = root;
    for (let i = 0; i < 100; i++) node = node.next as Record<string, unknown>;
    node.back = root;
    const error = problemOf(root);
    expect(error.message).toContain(`\`payload${".next".repeat(100)}.back\``);
    expect(error.message).toContain("reference cycle");
  });

  it("names a function 100 levels down", () => {
    expect(problemOf(chain(100, () => 1)).message).toContain(
      `\`payload${".next".repeat(100)}.leaf\``,
    );
  });
});

describe("stop (how a rank finds the images to encode in the same walk)", () => {
  class Pixels {}
  const isPixels = (object: object): boolean => object instanceof Pixels;

  it("returns true at the first object stop claims, and checks nothing after it", () => {
    expect(assertSendable({ a: 1, image: new Pixels(), later: () => 1 }, "result", isPixels)).toBe(
      true,
    );
  });

  it("still throws for a bad value before the claimed object", () => {
    expect(() =>
      assertSendable({ first: Symbol("s"), image: new Pixels() }, "result", isPixels),
    ).toThrow("Expected `result.first` to be data");
  });

  it("returns false when stop claims nothing", () => {
    expect(assertSendable({ a: [1, { b: "c" }] }, "result", isPixels)).toBe(false);
  });

  it("sees objects inside arrays, Maps and Sets, and past the fast walk's depth", () => {
    expect(assertSendable([[new Pixels()]], "result", isPixels)).toBe(true);
    expect(assertSendable(new Map([["k", new Pixels()]]), "result", isPixels)).toBe(true);
    expect(assertSendable(new Set([new Pixels()]), "result", isPixels)).toBe(true);
    let deep: unknown = new Pixels();
    for (let i = 0; i < 150; i++) deep = [deep];
    expect(assertSendable(deep, "result", isPixels)).toBe(true);
  });
});
