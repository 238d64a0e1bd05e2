import { describe, expect, it } from "vitest";
import { KeyedQueue } from "../../src/internal/keyed-queue.ts";
import { mulberry32 } from "./support/prng.ts";

/** Shifts everything left, with each item's key. */
function drain<T>(queue: KeyedQueue<T>): [T, string | null][] {
  const out: [T, string | null][] = [];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    out.push([item, queue.shiftedKey]);
  }
  return out;
}

describe("KeyedQueue", () => {
  it("gives items back first in, first out, each with its key", () => {
    const queue = new KeyedQueue<string>();
    queue.push("a", null);
    queue.push("b", "k");
    queue.push("c", null);
    expect(queue.size).toBe(3);
    expect(drain(queue)).toEqual([
      ["a", null],
      ["b", "k"],
      ["c", null],
    ]);
    expect(queue.size).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });

  it("replaces the unread item of a key with the newer one, at the back, and returns the one it dropped", () => {
    const queue = new KeyedQueue<string>();
    queue.push("old preview", "preview");
    queue.push("kept", null);
    expect(queue.get("preview")).toBe("old preview");
    expect(queue.push("new preview", "preview")).toBe("old preview");
    expect(queue.get("preview")).toBe("new preview");
    expect(queue.size).toBe(2);
    expect(drain(queue)).toEqual([
      ["kept", null],
      ["new preview", "preview"],
    ]);
  });

  it("queues a keyed item anew once the previous one of its key was shifted", () => {
    const queue = new KeyedQueue<number>();
    queue.push(1, "k");
    queue.push(2, null);
    expect(queue.shift()).toBe(1);
    expect(queue.get("k")).toBeUndefined();
    expect(queue.push(3, "k")).toBeUndefined();
    expect(drain(queue).map(([item]) => item)).toEqual([2, 3]);
  });

  it("peeks past holes without taking the item", () => {
    const queue = new KeyedQueue<string>();
    queue.push("replaced", "k");
    queue.push("newest", "k");
    expect(queue.peek()).toBe("newest");
    expect(queue.size).toBe(1);
    expect(queue.shift()).toBe("newest");
    expect(queue.peek()).toBeUndefined();
  });

  it("drops everything on clear(), keys included", () => {
    const queue = new KeyedQueue<string>();
    queue.push("a", "k");
    queue.push("b", null);
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.get("k")).toBeUndefined();
    expect(queue.push("c", "k")).toBeUndefined();
    expect(drain(queue)).toEqual([["c", "k"]]);
  });

  it("matches a plain model through 20,000 seeded pushes and shifts, across compactions", () => {
    const random = mulberry32(7);
    const queue = new KeyedQueue<number>();
    let model: { item: number; key: string | null }[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Mostly pushes, so the queue grows past the compaction threshold with holes in it.
      if (random() < 0.6) {
        const key = random() < 0.5 ? `k${Math.floor(random() * 8)}` : null;
        const before = key === null ? undefined : model.find((entry) => entry.key === key);
        expect(queue.push(i, key)).toBe(before?.item);
        if (key !== null) model = model.filter((entry) => entry.key !== key);
        model.push({ item: i, key });
      } else {
        const expected = model.shift();
        expect(queue.shift()).toBe(expected?.item);
        if (expected !== undefined) expect(queue.shiftedKey).toBe(expected.key);
      }
      expect(queue.size).toBe(model.length);
    }
    expect(drain(queue)).toEqual(model.map(({ item, key }) => [item, key]));
  });
});
