import { describe, expect, it } from "vitest";
import { EventLog } from "../../src/queue/event-log.ts";
import { MemoryStore } from "../../src/queue/memory-store.ts";
import { queueEntry } from "./support/queue-entries.ts";

describe("MemoryStore", () => {
  it("once closed, ends waiting takes and refuses new requests with QUEUE_UNAVAILABLE", async () => {
    const store = new MemoryStore();
    const taking = store.take(new AbortController().signal);
    await store.close();
    expect(await taking).toBeUndefined();
    expect(await store.take(new AbortController().signal)).toBeUndefined();
    await expect(store.submit(queueEntry())).rejects.toMatchObject({
      name: "QueueUnavailableError",
      code: "QUEUE_UNAVAILABLE",
    });
    expect(store.health()).toEqual({ connected: false, queued: 0 });
  });

  it("keeps a request's logs to maxEvents, the newest ones", async () => {
    const store = new MemoryStore({ maxEvents: 2 });
    const entry = queueEntry();
    await store.submit(entry);
    const lease = await store.take(new AbortController().signal);
    for (const message of ["a", "b", "c"]) {
      await lease?.log({ message, level: "INFO", source: "USER", timestamp: "t" });
    }
    expect((await store.logs(entry.id)).map((line) => line.message)).toEqual(["b", "c"]);
    await store.close();
  });
});

describe("EventLog", () => {
  it("finds events by number across many latest-wins replacements and the cap", () => {
    const log = new EventLog(100);
    for (let n = 1; n <= 10_000; n++) {
      log.append({ type: "result", data: String(n), key: n % 3 === 0 ? undefined : `k${n % 3}` });
    }
    // Of the keyed ones only the newest of each key is left; of the rest, the newest.
    expect(log.size).toBe(100);
    const kept: number[] = [];
    for (let event = log.next(0); event !== undefined; event = log.next(event.seq)) {
      kept.push(event.seq);
    }
    expect(kept).toHaveLength(100);
    expect(kept.slice(-3)).toEqual([9998, 9999, 10_000]);
    expect(kept.filter((seq) => seq % 3 !== 0)).toEqual([9998, 10_000]);
    expect(log.next(9_999)?.seq).toBe(10_000);
    expect(log.next(10_000)).toBeUndefined();
    expect(log.next(kept[0] ?? 0)?.seq).toBe(kept[1]);
  });
});
