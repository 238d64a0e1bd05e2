import { describe, expect, it } from "vitest";
import { AppendWindow } from "../../src/app/append-window.ts";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";
import type { StoredEventBody } from "../../src/queue/queue-store.ts";

/** A lease whose appends are recorded when the test says so, each one in turn. */
function heldLease() {
  const appends: { event: StoredEventBody; recorded: Deferred<void> }[] = [];
  return {
    appends,
    append(event: StoredEventBody): Promise<void> {
      const recorded = deferred();
      appends.push({ event, recorded });
      return recorded.promise;
    },
  };
}

const result = (i: number): StoredEventBody => ({ type: "result", data: `{"i":${i}}` });

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("AppendWindow", () => {
  it("asks for no wait while fewer than its size are unrecorded", () => {
    const lease = heldLease();
    const window = new AppendWindow(lease, 3);
    window.push(result(1));
    window.push(result(2));
    expect(window.room()).toBeUndefined();
    expect(lease.appends.map((a) => a.event.data)).toEqual(['{"i":1}', '{"i":2}']);
  });

  it("waits once its size are unrecorded, until one of them is recorded", async () => {
    const lease = heldLease();
    const window = new AppendWindow(lease, 2);
    window.push(result(1));
    window.push(result(2));
    const room = window.room();
    expect(room).toBeInstanceOf(Promise);
    let roomy = false;
    void room?.then(() => {
      roomy = true;
    });
    await settle();
    expect(roomy).toBe(false);
    lease.appends[0]?.recorded.resolve();
    await settle();
    expect(roomy).toBe(true);
    expect(window.room()).toBeUndefined();
  });

  it("drains once every append is recorded, in whatever order", async () => {
    const lease = heldLease();
    const window = new AppendWindow(lease, 8);
    for (let i = 0; i < 3; i++) window.push(result(i));
    let drained = false;
    const done = window.drained().then(() => {
      drained = true;
    });
    lease.appends[2]?.recorded.resolve();
    lease.appends[0]?.recorded.resolve();
    await settle();
    expect(drained).toBe(false);
    lease.appends[1]?.recorded.resolve();
    await done;
    expect(drained).toBe(true);
    await expect(new AppendWindow(lease).drained()).resolves.toBeUndefined();
  });

  it("fails every later wait with the first append's failure", async () => {
    const lease = heldLease();
    const window = new AppendWindow(lease, 2);
    window.push(result(1));
    window.push(result(2));
    const room = window.room();
    const lost = new Error("lease lost");
    lease.appends[0]?.recorded.reject(lost);
    lease.appends[1]?.recorded.reject(new Error("later"));
    await expect(room).rejects.toBe(lost);
    expect(() => window.room()).toThrow(lost);
    await expect(window.drained()).rejects.toBe(lost);
  });
});
