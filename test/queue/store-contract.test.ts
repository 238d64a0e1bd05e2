/**
 * What every queue store keeps to, whatever holds it: the same suite runs on the in-process store
 * and on a Redis store against a real redis-server.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/queue/memory-store.ts";
import type {
  Lease,
  QueueEntry,
  QueueStore,
  StoredEvent,
  StoreOptions,
} from "../../src/queue/queue-store.ts";
import { RedisStore } from "../../src/queue/redis-store.ts";
import { RedisServer } from "../fixtures/redis-server.ts";
import { collect } from "../helpers.ts";
import { abortReason, endCancelled, manualClock, queueEntry } from "./support/queue-entries.ts";

interface StoreKind {
  readonly name: string;
  /** A fresh store of an app no other test uses. */
  open(options?: StoreOptions): Promise<QueueStore>;
}

let redis: RedisServer | undefined;
afterAll(async () => {
  await redis?.stop();
});

const kinds: StoreKind[] = [
  { name: "memory", open: async (options) => new MemoryStore(options) },
  {
    name: "redis",
    open: async (options) => {
      redis ??= await RedisServer.start();
      // Each test its own app id: its own keys in the one server.
      return new RedisStore({ url: redis.url, appId: `test/${randomUUID()}`, ...options });
    },
  },
];

describe.each(kinds)("the $name store", (kind) => {
  const opened: QueueStore[] = [];
  const controllers: AbortController[] = [];
  afterEach(async () => {
    for (const controller of controllers.splice(0)) controller.abort();
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  async function open(options?: StoreOptions): Promise<QueueStore> {
    const store = await kind.open(options);
    opened.push(store);
    return store;
  }
  function signal(): AbortSignal {
    const controller = new AbortController();
    controllers.push(controller);
    return controller.signal;
  }
  async function take(store: QueueStore): Promise<Lease> {
    const lease = await store.take(signal());
    if (lease === undefined) throw new Error("take() gave nothing");
    return lease;
  }
  /** Submits a request and takes it: its holder's lease. */
  async function running(store: QueueStore): Promise<{ entry: QueueEntry; lease: Lease }> {
    const entry = queueEntry();
    await store.submit(entry);
    return { entry, lease: await take(store) };
  }
  const result = (n: number, key?: string) => ({
    type: "result" as const,
    data: JSON.stringify({ n }),
    ...(key === undefined ? {} : { key }),
  });
  const seqs = (events: StoredEvent[]) => events.map((e) => e.seq);

  it("gives each submitted request its global position, normal requests ahead of low ones", async () => {
    const store = await open();
    const low = queueEntry({ priority: "low" });
    const first = queueEntry();
    const second = queueEntry();
    expect(await store.submit(first)).toBe(0);
    expect(await store.submit(low)).toBe(1);
    expect(await store.submit(second)).toBe(1);
    expect((await store.get(low.id))?.position).toBe(2);
    expect((await store.get(second.id))?.position).toBe(1);
    expect(store.health()).toEqual({ connected: true, queued: 3 });
  });

  it("says when positions move: a take, a cancel of a queued request, a normal one ahead of low ones", async () => {
    const store = await open();
    // Each move wakes a listener; one that unsubscribed is not woken again.
    const nextMove = () =>
      new Promise<void>((resolve) => {
        const off = store.onMoved(() => {
          off();
          resolve();
        });
      });
    const low = queueEntry({ priority: "low" });
    await store.submit(low);
    let moved = nextMove();
    await store.submit(queueEntry());
    await moved;
    moved = nextMove();
    await store.cancel(low.id);
    await moved;
    moved = nextMove();
    await take(store);
    await moved;
  });

  it("hands requests out normal priority first, then in the order they were submitted", async () => {
    const store = await open();
    const entries = [
      queueEntry({ priority: "low" }),
      queueEntry(),
      queueEntry({ priority: "low" }),
      queueEntry(),
    ];
    for (const entry of entries) await store.submit(entry);
    const taken: string[] = [];
    for (let i = 0; i < entries.length; i++) taken.push((await take(store)).entry.id);
    expect(taken).toEqual([entries[1], entries[3], entries[0], entries[2]].map((e) => e?.id));
    expect(store.health().queued).toBe(0);
  });

  it("keeps the entry as submitted and records each phase: queued, running, completed", async () => {
    const clock = manualClock();
    const store = await open({ now: clock.now });
    const entry = queueEntry({
      endpoint: "/stream",
      input: { nested: [1, "two", { three: null }] },
      timeout: 5000,
      webhookUrl: "http://127.0.0.1:9/hook",
      owner: "fingerprint",
    });
    await store.submit(entry);
    expect(await store.get(entry.id)).toEqual({
      entry,
      phase: "IN_QUEUE",
      position: 0,
      attempt: 0,
    });

    clock.advance(10);
    const lease = await take(store);
    expect(lease.entry).toEqual(entry);
    expect(lease.attempt).toBe(1);
    expect(await store.get(entry.id)).toEqual({
      entry,
      phase: "IN_PROGRESS",
      attempt: 1,
      startedAt: clock.now(),
    });

    clock.advance(10);
    await lease.append({ type: "done", data: '{"ok":1}' });
    await lease.complete({ ok: true, output: '{"ok":1}' });
    expect(await store.get(entry.id)).toEqual({
      entry,
      phase: "COMPLETED",
      attempt: 1,
      startedAt: clock.now() - 10,
      completedAt: clock.now(),
      outcome: { ok: true, output: '{"ok":1}' },
    });
  });

  it("knows nothing of an id it never had", async () => {
    const store = await open();
    expect(await store.get("no-such-request")).toBeUndefined();
    expect(await store.logs("no-such-request")).toEqual([]);
    expect(await collect(store.events("no-such-request", 0, signal()))).toEqual([]);
    expect(await store.cancel("no-such-request")).toBe("NOT_FOUND");
  });

  it("refuses a second request with an id it already has", async () => {
    const store = await open();
    const entry = queueEntry();
    await store.submit(entry);
    await expect(store.submit(entry)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(store.health().queued).toBe(1);
  });

  it("replays the events after afterSeq, then follows new ones live until the last", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    await lease.append({ type: "started", data: "{}" });
    await lease.append(result(1));
    await lease.append(result(2));

    const seen: StoredEvent[] = [];
    for await (const event of store.events(entry.id, 1, signal())) {
      seen.push(event);
      // Each append happens only once the reader has the event before it: it follows live.
      if (event.seq === 3)
        await lease.append({ type: "error", data: '{"fatal":false}', fatal: false });
      if (event.seq === 4) await lease.append({ type: "done", data: '"finished"' });
    }
    expect(seen).toEqual([
      { seq: 2, event: result(1) },
      { seq: 3, event: result(2) },
      { seq: 4, event: { type: "error", data: '{"fatal":false}', fatal: false } },
      { seq: 5, event: { type: "done", data: '"finished"' } },
    ]);
    await lease.complete({ ok: true, output: '"finished"' });
    expect(seqs(await collect(store.events(entry.id, 0, signal())))).toEqual([1, 2, 3, 4, 5]);
    expect(await collect(store.events(entry.id, 5, signal()))).toEqual([]);
  });

  it("ends a reader after a fatal error event", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    await lease.append(result(1));
    const reader = store.events(entry.id, 1, signal())[Symbol.asyncIterator]();
    const next = reader.next();
    await lease.append({ type: "error", data: '{"error":{}}', fatal: true });
    expect((await next).value).toMatchObject({ seq: 2, event: { type: "error", fatal: true } });
    expect((await reader.next()).done).toBe(true);
  });

  it("ends a reader waiting for the next event when its signal aborts", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    await lease.append(result(1));
    const controller = new AbortController();
    const reader = store.events(entry.id, 0, controller.signal)[Symbol.asyncIterator]();
    expect((await reader.next()).value).toMatchObject({ seq: 1 });
    const waiting = reader.next();
    await store.get(entry.id);
    controller.abort();
    expect(await waiting).toEqual({ done: true, value: undefined });
  });

  it("keeps the logs of a request in order", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    const line = (message: string) => ({
      message,
      level: "INFO",
      source: "USER" as const,
      timestamp: new Date(0).toISOString(),
    });
    await lease.log(line("one"));
    await lease.log(line("two"));
    expect(await store.logs(entry.id)).toEqual([line("one"), line("two")]);
  });

  it("records a completion and its last event in one step: a reader that sees it finds the request completed", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    await lease.append({ type: "started", data: "{}" });
    const seen: string[] = [];
    const following = (async () => {
      for await (const { event } of store.events(entry.id, 0, signal())) {
        // Asked the moment the event arrives, before anything else can happen.
        seen.push(`${event.type} ${(await store.get(entry.id))?.phase}`);
      }
    })();
    await lease.append(result(1));
    await lease.complete({ ok: true, output: '"finished"' });
    await following;
    expect(seen.at(-1)).toBe("done COMPLETED");
    expect(seen).toHaveLength(3);
  });

  it("fails a queued request whose x-fal-request-timeout runs out where it waits: REQUEST_TIMEOUT, never run", async () => {
    const clock = manualClock();
    const completed: string[] = [];
    const store = await open({
      now: clock.now,
      onCompleted: (entry, outcome) => completed.push(`${entry.id} ${JSON.stringify(outcome)}`),
    });
    // Submitted 5 s ago with 5 s to run: its time runs out as it is queued.
    const late = queueEntry({ timeout: 5000, submittedAt: clock.now() - 5000 });
    const next = queueEntry({ timeout: 60_000, submittedAt: clock.now() });
    await store.submit(late);
    await store.submit(next);
    const events = await collect(store.events(late.id, 0, signal()));
    const error = {
      name: "RequestTimeoutError",
      code: "REQUEST_TIMEOUT",
      message: `Request ${late.id} timed out after 5 s (x-fal-request-timeout)`,
      requestId: late.id,
    };
    expect(events).toEqual([
      {
        seq: 1,
        event: { type: "error", data: JSON.stringify({ error, fatal: true }), fatal: true },
      },
    ]);
    const record = await store.get(late.id);
    expect(record).toMatchObject({ phase: "COMPLETED", attempt: 0, outcome: { ok: false, error } });
    expect(completed).toEqual([`${late.id} ${JSON.stringify({ ok: false, error })}`]);
    expect((await store.get(next.id))?.position).toBe(0);
    expect(store.health().queued).toBe(1);
    expect((await take(store)).entry.id).toBe(next.id);
    expect(await store.cancel(late.id)).toBe("ALREADY_COMPLETED");
  });

  it("cancels a queued request without running it: it completes with ABORTED and a fatal error event", async () => {
    const store = await open();
    const cancelled = queueEntry();
    const next = queueEntry();
    await store.submit(cancelled);
    await store.submit(next);
    expect(await store.cancel(cancelled.id)).toBe("CANCELLATION_REQUESTED");
    expect(store.health().queued).toBe(1);
    expect((await store.get(next.id))?.position).toBe(0);

    const record = await store.get(cancelled.id);
    expect(record).toMatchObject({ phase: "COMPLETED", attempt: 0 });
    const error = {
      name: "AbortError",
      code: "ABORTED",
      message: `Request ${cancelled.id} was cancelled`,
    };
    expect(record?.outcome).toEqual({ ok: false, error: { ...error, requestId: cancelled.id } });
    const events = await collect(store.events(cancelled.id, 0, signal()));
    expect(events).toHaveLength(1);
    expect(events[0]?.event).toMatchObject({ type: "error", fatal: true });
    expect(JSON.parse(events[0]?.event.data ?? "")).toEqual({
      error: { ...error, requestId: cancelled.id },
      fatal: true,
    });

    expect((await take(store)).entry.id).toBe(next.id);
    expect(await store.cancel(cancelled.id)).toBe("ALREADY_COMPLETED");
  });

  it("cancels a running request by aborting its holder's lease signal", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    const aborted = abortReason(lease.signal);
    expect(await store.cancel(entry.id)).toBe("CANCELLATION_REQUESTED");
    expect(await aborted).toMatchObject({ name: "AbortError" });
    expect((await store.get(entry.id))?.phase).toBe("IN_PROGRESS");

    // The holder still records how it ended.
    const error = await endCancelled(lease);
    expect(await store.get(entry.id)).toMatchObject({
      phase: "COMPLETED",
      outcome: { ok: false, error },
    });
    expect(await store.cancel(entry.id)).toBe("ALREADY_COMPLETED");
  });

  it("makes take() wait for a submit, and hands the request to the taker waiting longest", async () => {
    const store = await open();
    const settled: string[] = [];
    const first = store.take(signal()).then((lease) => {
      settled.push("first");
      return lease;
    });
    const second = store.take(signal()).then((lease) => {
      settled.push("second");
      return lease;
    });
    // A round trip through the store: had take() not waited, it would have settled by now.
    await store.get("nothing");
    expect(settled).toEqual([]);

    const entry = queueEntry();
    await store.submit(entry);
    expect((await first)?.entry.id).toBe(entry.id);
    expect(settled).toEqual(["first"]);
    const another = queueEntry();
    await store.submit(another);
    expect((await second)?.entry.id).toBe(another.id);
  });

  it("resolves a waiting take() with nothing when its signal aborts", async () => {
    const store = await open();
    const controller = new AbortController();
    const taking = store.take(controller.signal);
    controller.abort();
    expect(await taking).toBeUndefined();
    expect(await store.take(AbortSignal.abort())).toBeUndefined();
    // The aborted taker took nothing: the next request goes to the next taker.
    const entry = queueEntry();
    await store.submit(entry);
    expect((await take(store)).entry.id).toBe(entry.id);
  });

  it("forgets a completed request once its retention has passed", async () => {
    const clock = manualClock();
    const store = await open({ now: clock.now, retention: 60_000 });
    const { entry, lease } = await running(store);
    await lease.log({ message: "x", level: "INFO", source: "USER", timestamp: "t" });
    await lease.append({ type: "done", data: "1" });
    await lease.complete({ ok: true, output: "1" });

    clock.advance(59_999);
    expect((await store.get(entry.id))?.phase).toBe("COMPLETED");
    clock.advance(1);
    expect(await store.get(entry.id)).toBeUndefined();
    expect(await store.logs(entry.id)).toEqual([]);
    expect(await collect(store.events(entry.id, 0, signal()))).toEqual([]);
    expect(await store.cancel(entry.id)).toBe("NOT_FOUND");
  });

  it("keeps at most maxEvents events of a request, dropping the oldest", async () => {
    const store = await open({ maxEvents: 3 });
    const { entry, lease } = await running(store);
    for (let n = 1; n <= 5; n++) await lease.append(result(n));
    await lease.append({ type: "done", data: "6" });
    await lease.complete({ ok: true, output: "6" });
    expect(seqs(await collect(store.events(entry.id, 0, signal())))).toEqual([4, 5, 6]);
    expect(seqs(await collect(store.events(entry.id, 4, signal())))).toEqual([5, 6]);
  });

  it("keeps only the newest event of each latest-wins key", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    await lease.append(result(1, "preview"));
    await lease.append(result(2, "preview"));
    await lease.append(result(3));
    await lease.append(result(4, "mask"));
    await lease.append(result(5, "preview"));
    await lease.append({ type: "done", data: "6" });
    await lease.complete({ ok: true, output: "6" });
    expect(await collect(store.events(entry.id, 0, signal()))).toEqual([
      { seq: 3, event: result(3) },
      { seq: 4, event: result(4, "mask") },
      { seq: 5, event: result(5, "preview") },
      { seq: 6, event: { type: "done", data: "6" } },
    ]);
  });

  it("ends the stream with the outcome when the holder completes without a last event", async () => {
    const store = await open();
    const ok = queueEntry();
    const failed = queueEntry();
    await store.submit(ok);
    await store.submit(failed);
    const first = await take(store);
    const second = await take(store);
    const reader = collect(store.events(ok.id, 0, signal()));
    await first.complete({ ok: true, output: '{"a":1}' });
    expect(await reader).toEqual([{ seq: 1, event: { type: "done", data: '{"a":1}' } }]);
    const error = { name: "Error", code: "INTERNAL", message: "broke" };
    await second.complete({ ok: false, error });
    const events = await collect(store.events(failed.id, 0, signal()));
    expect(events.map((e) => [e.event.type, e.event.fatal])).toEqual([["error", true]]);
    expect(JSON.parse(events[0]?.event.data ?? "")).toEqual({ error, fatal: true });
  });

  it("refuses appends, logs and a second completion once its holder completed", async () => {
    const store = await open();
    const { entry, lease } = await running(store);
    await lease.complete({ ok: true, output: "1" });
    await expect(lease.append(result(1))).rejects.toMatchObject({ code: "LEASE_LOST" });
    await expect(
      lease.log({ message: "x", level: "INFO", source: "USER", timestamp: "t" }),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });
    await expect(lease.complete({ ok: true, output: "2" })).rejects.toMatchObject({
      code: "LEASE_LOST",
    });
    expect((await store.get(entry.id))?.outcome).toEqual({ ok: true, output: "1" });
  });
});
