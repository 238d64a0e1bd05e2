import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Throttle, type ThrottleClock } from "../../src/worker/throttle.ts";

const clock: ThrottleClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

describe("Throttle", () => {
  let sent: string[];
  let throttle: Throttle<string>;
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    sent = [];
    throttle = new Throttle((item) => sent.push(item), clock);
  });
  afterEach(() => vi.useRealTimers());

  it("sends the first item at once, then at most one per interval, the newest of each interval", () => {
    throttle.add("preview", 100, "a");
    expect(sent).toEqual(["a"]);
    throttle.add("preview", 100, "b");
    vi.advanceTimersByTime(50);
    throttle.add("preview", 100, "c");
    expect(sent).toEqual(["a"]);
    vi.advanceTimersByTime(50);
    expect(sent).toEqual(["a", "c"]);
    vi.advanceTimersByTime(99);
    throttle.add("preview", 100, "d");
    expect(sent).toEqual(["a", "c"]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(["a", "c", "d"]);
    vi.advanceTimersByTime(500);
    throttle.add("preview", 100, "e");
    expect(sent).toEqual(["a", "c", "d", "e"]);
  });

  it("addEvery sends the 1st, (n+1)th, … at once, and flush() the newest of the rest", () => {
    for (let i = 0; i < 12; i++) throttle.addEvery("step", 5, `s${i}`);
    expect(sent).toEqual(["s0", "s5", "s10"]);
    throttle.flush();
    expect(sent).toEqual(["s0", "s5", "s10", "s11"]);
    throttle.flush();
    expect(sent).toEqual(["s0", "s5", "s10", "s11"]);
  });

  it("addEvery leaves nothing to flush when the last item went out", () => {
    for (let i = 0; i < 6; i++) throttle.addEvery("step", 5, `s${i}`);
    throttle.flush();
    expect(sent).toEqual(["s0", "s5"]);
  });

  it("sends everything with an interval of 0", () => {
    for (const item of ["a", "b", "c"]) throttle.add("k", 0, item);
    expect(sent).toEqual(["a", "b", "c"]);
  });

  it("limits each key on its own", () => {
    throttle.add("preview", 100, "p1");
    throttle.add("progress", 10, "q1");
    throttle.add("progress", 10, "q2");
    throttle.add("preview", 100, "p2");
    vi.advanceTimersByTime(10);
    expect(sent).toEqual(["p1", "q1", "q2"]);
    vi.advanceTimersByTime(90);
    expect(sent).toEqual(["p1", "q1", "q2", "p2"]);
  });

  it("flush() sends the waiting items at once, and nothing is sent twice", () => {
    throttle.add("preview", 100, "a");
    throttle.add("preview", 100, "b");
    throttle.flush();
    expect(sent).toEqual(["a", "b"]);
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(["a", "b"]);
  });

  it("clear() drops the waiting items and their timers", () => {
    throttle.add("preview", 100, "a");
    throttle.add("preview", 100, "b");
    throttle.clear();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(["a"]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
