import { describe, expect, it } from "vitest";
import { abortOf, onAbort } from "../../src/internal/abort-of.ts";

describe("abortOf", () => {
  it("resolves at once for a signal that has already aborted", async () => {
    await expect(abortOf(AbortSignal.abort())).resolves.toBeUndefined();
  });

  it("resolves when the signal aborts later", async () => {
    const controller = new AbortController();
    const aborted = abortOf(controller.signal);
    controller.abort();
    await expect(aborted).resolves.toBeUndefined();
  });
});

describe("onAbort", () => {
  it("calls the listener now for a signal that has already aborted, and only then", () => {
    const calls: string[] = [];
    const controller = new AbortController();
    controller.abort();
    onAbort(controller.signal, () => calls.push("now"));
    expect(calls).toEqual(["now"]);
    controller.signal.dispatchEvent(new Event("abort"));
    expect(calls).toEqual(["now"]);
  });

  it("calls the listener once when the signal aborts later, not after it was taken off", () => {
    const calls: string[] = [];
    const first = new AbortController();
    onAbort(first.signal, () => calls.push("first"));
    expect(calls).toEqual([]);
    first.abort();
    first.abort();
    expect(calls).toEqual(["first"]);
    const second = new AbortController();
    const off = onAbort(second.signal, () => calls.push("second"));
    off();
    second.abort();
    expect(calls).toEqual(["first"]);
  });

  it("does nothing without a signal", () => {
    const off = onAbort(undefined, () => {
      throw new Error("called");
    });
    off();
  });
});
