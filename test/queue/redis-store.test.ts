/**
 * The Redis store where one process is not the whole story: Redis killed and restarted under a
 * held lease, replicas (stores of one app id with their own consumer names) taking over from one
 * that stopped renewing, fencing, attempts running out, and 10,000 queued requests.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, TroupeError } from "../../src/errors.ts";
import type { QueueStore, StoredEvent, StoredEventBody } from "../../src/queue/queue-store.ts";
import { RedisStore, type RedisStoreOptions } from "../../src/queue/redis-store.ts";
import { RedisServer } from "../fixtures/redis-server.ts";
import { collect } from "../helpers.ts";
import { abortReason, endCancelled, queueEntry } from "./support/queue-entries.ts";

const opened: QueueStore[] = [];
const controllers: AbortController[] = [];
afterEach(async () => {
  for (const controller of controllers.splice(0)) controller.abort();
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

function signal(): AbortSignal {
  const controller = new AbortController();
  controllers.push(controller);
  return controller.signal;
}

function replica(
  server: RedisServer,
  appId: string,
  options: Partial<RedisStoreOptions> = {},
): RedisStore {
  const store = new RedisStore({ url: server.url, appId, ...options });
  opened.push(store);
  return store;
}

async function take(store: QueueStore) {
  const lease = await store.take(signal());
  if (lease === undefined) throw new Error("take() gave nothing");
  return lease;
}

const started = { type: "started" as const, data: "{}" };
const result = (n: number) => ({ type: "result" as const, data: JSON.stringify({ n }) });
const line = (message: string) => ({
  message,
  level: "INFO",
  source: "USER" as const,
  timestamp: new Date(0).toISOString(),
});
const kinds = (events: StoredEvent[]) => events.map((e) => `${e.seq}:${e.event.type}`);

describe("the Redis store when Redis goes away", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({ persistent: true });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("keeps a held request's writes through a restart, loses nothing accepted, and refuses submits meanwhile", async () => {
    const store = replica(server, `test/${randomUUID()}`);
    const running = queueEntry();
    const waiting = queueEntry();
    await store.submit(running);
    const lease = await take(store);
    await store.submit(waiting);
    await lease.append(started);
    await lease.append(result(1));

    // A reader following the request, its first event read before Redis goes away.
    const reader = store.events(running.id, 0, signal())[Symbol.asyncIterator]();
    const first = await reader.next();
    const rest = collect({ [Symbol.asyncIterator]: () => reader });
    await server.kill();
    await expect(store.submit(queueEntry())).rejects.toMatchObject({
      name: "QueueUnavailableError",
      code: "QUEUE_UNAVAILABLE",
    });
    expect(store.health().connected).toBe(false);
    await expect(store.get(running.id)).rejects.toMatchObject({ code: "QUEUE_UNAVAILABLE" });
    // The holder goes on: what it writes now waits, in order, for Redis to come back.
    const writes = Promise.all([
      lease.append(result(2)),
      lease.log(line("while Redis was away")),
      lease.append({ type: "done", data: '"ok"' }),
      lease.complete({ ok: true, output: '"ok"' }),
    ]);
    expect(lease.signal.aborted).toBe(false);

    await server.restart();
    await writes;
    expect(store.health().connected).toBe(true);
    expect(await store.get(running.id)).toMatchObject({
      phase: "COMPLETED",
      attempt: 1,
      outcome: { ok: true, output: '"ok"' },
    });
    const all = ["1:started", "2:result", "3:result", "4:done"];
    expect(kinds(await collect(store.events(running.id, 0, signal())))).toEqual(all);
    // A reader that followed through the outage got each event once.
    expect(kinds([first.value, ...(await rest)])).toEqual(all);
    expect(await store.logs(running.id)).toEqual([line("while Redis was away")]);
    expect(await store.get(waiting.id)).toMatchObject({ phase: "IN_QUEUE", position: 0 });
    expect((await take(store)).entry.id).toBe(waiting.id);
  });

  it("fails a held lease with LEASE_LOST when Redis comes back without its data, and takes new work", async () => {
    const forgetful = await RedisServer.start();
    try {
      const store = replica(forgetful, `test/${randomUUID()}`);
      await store.submit(queueEntry());
      const lease = await take(store);
      await forgetful.kill();
      const late = lease.append(result(1));
      await forgetful.restart();
      await expect(late).rejects.toMatchObject({ code: "LEASE_LOST" });
      expect(lease.signal.reason).toMatchObject({ code: "LEASE_LOST" });
      const entry = queueEntry();
      await store.submit(entry);
      expect((await take(store)).entry.id).toBe(entry.id);
    } finally {
      await forgetful.stop();
    }
  });

  it("refuses a submit at once when Redis was never reachable", async () => {
    const closed = await RedisServer.start();
    const url = closed.url;
    await closed.stop();
    const store = new RedisStore({ url, appId: "test/unreachable" });
    opened.push(store);
    await expect(store.submit(queueEntry())).rejects.toMatchObject({ code: "QUEUE_UNAVAILABLE" });
    expect(store.health()).toEqual({ connected: false, queued: 0 });
  });
});

describe("Redis store replicas", () => {
  let server: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    server = await RedisServer.start();
    raw = new Redis(server.url, { protocol: 2 });
  });
  afterAll(async () => {
    raw.disconnect();
    await server.stop();
  });

  // `slow` renews every 20 s: to a replica with a 300 ms lease time, it stopped renewing.
  function pair(options: Partial<RedisStoreOptions> = {}) {
    const appId = `test/${randomUUID()}`;
    return {
      appId,
      slow: replica(server, appId, { consumer: "slow", leaseTime: 60_000 }),
      fast: replica(server, appId, { consumer: "fast", leaseTime: 300, ...options }),
    };
  }

  it("serves one replica's request to another: status, events followed live, cancel", async () => {
    const { slow, fast } = pair();
    const entry = queueEntry();
    expect(await fast.submit(entry)).toBe(0);
    const lease = await take(slow);
    expect(await fast.get(entry.id)).toMatchObject({ phase: "IN_PROGRESS", attempt: 1 });

    const seen: string[] = [];
    const reader = (async () => {
      for await (const event of fast.events(entry.id, 0, signal())) {
        seen.push(`${event.seq}:${event.event.type}`);
        if (event.seq === 1) await fast.cancel(entry.id);
      }
    })();
    await lease.append(started);
    const reason = await abortReason(lease.signal);
    expect(reason).toMatchObject({ name: "AbortError" });
    await endCancelled(lease);
    await reader;
    expect(seen).toEqual(["1:started", "2:error"]);
  });

  it("takes over a request whose replica stopped renewing, with a retry event, and fences the old holder", async () => {
    const { slow, fast } = pair();
    const entry = queueEntry();
    await slow.submit(entry);
    const first = await take(slow);
    await first.append(started);
    await first.append(result(1));

    const second = await take(fast);
    expect(second.entry).toEqual(entry);
    expect(second.attempt).toBe(2);
    // The old holder's late write is refused, and its signal says why.
    await expect(first.append(result(99))).rejects.toMatchObject({ code: "LEASE_LOST" });
    expect(first.signal.reason).toMatchObject({ name: "LeaseLostError", code: "LEASE_LOST" });
    await expect(first.complete({ ok: true, output: "99" })).rejects.toMatchObject({
      code: "LEASE_LOST",
    });

    await second.append(started);
    await second.append({ type: "done", data: '"second"' });
    await second.complete({ ok: true, output: '"second"' });
    const events = await collect(fast.events(entry.id, 0, signal()));
    expect(kinds(events)).toEqual(["1:started", "2:result", "3:retry", "4:started", "5:done"]);
    expect(JSON.parse(events[2]?.event.data ?? "")).toMatchObject({
      attempt: 2,
      error: { name: "LeaseLostError", code: "LEASE_LOST", requestId: entry.id },
    });
    expect(await slow.get(entry.id)).toMatchObject({
      phase: "COMPLETED",
      attempt: 2,
      outcome: { ok: true, output: '"second"' },
    });
  });

  it("takes back a request a stopping replica hands back: in its own place, a retry event, the run not counted", async () => {
    const { slow, fast } = pair();
    const entry = queueEntry();
    const behind = queueEntry();
    await slow.submit(entry);
    const first = await take(slow);
    await slow.submit(behind);
    await first.append(started);
    await first.append(result(1));
    const stopping = new TroupeError(ErrorCode.SHUTTING_DOWN, "The replica is stopping");
    expect(await first.handBack?.(stopping)).toBe(true);
    expect(first.signal.reason).toMatchObject({ code: "LEASE_LOST" });
    await expect(first.append(result(99))).rejects.toMatchObject({ code: "LEASE_LOST" });
    // It waits ahead of the request submitted after it.
    expect(await fast.get(entry.id)).toMatchObject({ phase: "IN_QUEUE", position: 0 });
    expect(await fast.get(behind.id)).toMatchObject({ position: 1 });
    expect(await fast.cancel(behind.id)).toBe("CANCELLATION_REQUESTED");

    // Taken again at once (no lease to run out), from the start.
    const second = await take(slow);
    expect(second.entry.id).toBe(entry.id);
    expect(second.attempt).toBe(2);
    await second.append(started);
    // That replica dies too: with maxAttempts 2, the run handed back was not one of them.
    const third = await take(fast);
    expect(third.entry.id).toBe(entry.id);
    expect(third.attempt).toBe(3);
    await third.append({ type: "done", data: '"third"' });
    await third.complete({ ok: true, output: '"third"' });
    const events = await collect(fast.events(entry.id, 0, signal()));
    expect(kinds(events)).toEqual([
      "1:started",
      "2:result",
      "3:retry",
      "4:started",
      "5:retry",
      "6:done",
    ]);
    expect(JSON.parse(events[2]?.event.data ?? "")).toMatchObject({
      attempt: 2,
      error: { code: "SHUTTING_DOWN", requestId: entry.id },
    });
    expect(JSON.parse(events[4]?.event.data ?? "")).toMatchObject({
      attempt: 3,
      error: { code: "LEASE_LOST", message: expect.stringContaining("(attempt 1 of 2)") },
    });
  });

  it("does not hand back a request cancelled meanwhile: its holder completes it ABORTED", async () => {
    const { slow, fast } = pair();
    const entry = queueEntry();
    await slow.submit(entry);
    const lease = await take(slow);
    await lease.append(started);
    expect(await fast.cancel(entry.id)).toBe("CANCELLATION_REQUESTED");
    const stopping = new TroupeError(ErrorCode.SHUTTING_DOWN, "The replica is stopping");
    expect(await lease.handBack?.(stopping)).toBe(false);
    expect(lease.signal.reason).toMatchObject({ name: "AbortError" });
    await endCancelled(lease);
    expect(await fast.get(entry.id)).toMatchObject({
      phase: "COMPLETED",
      attempt: 1,
      outcome: { ok: false, error: { code: "ABORTED" } },
    });
  });

  it("completes a request with ATTEMPTS_EXHAUSTED once its replicas died on every attempt", async () => {
    const { slow, fast } = pair({ maxAttempts: 1 });
    const entry = queueEntry();
    const next = queueEntry();
    await slow.submit(entry);
    await take(slow);
    const taking = fast.take(signal());
    const events = await collect(fast.events(entry.id, 0, signal()));
    // The exhausted request is not handed out: the taker waits on for the next one.
    await fast.submit(next);
    expect((await taking)?.entry.id).toBe(next.id);
    expect(events.map((e) => [e.event.type, e.event.fatal])).toEqual([["error", true]]);
    const error = {
      name: "AttemptsExhaustedError",
      code: "ATTEMPTS_EXHAUSTED",
      message: `Request ${entry.id} was lost with its replica on each of its 1 attempts`,
      requestId: entry.id,
    };
    expect(JSON.parse(events[0]?.event.data ?? "")).toEqual({ error, fatal: true });
    expect(await fast.get(entry.id)).toMatchObject({
      phase: "COMPLETED",
      attempt: 1,
      outcome: { ok: false, error },
    });
  });

  it("runs a request whose token was read by a replica that died before it took one", async () => {
    const { appId, fast } = pair();
    const entry = queueEntry();
    await fast.submit(entry);
    // A replica reads the token and dies: it is pending with nobody holding a request for it.
    const tokens = `troupe:{${appId}}:tokens`;
    await raw.xgroup("CREATE", tokens, "runners", "0", "MKSTREAM").catch(() => {});
    const read = await raw.xreadgroup(
      "GROUP",
      "runners",
      "ghost",
      "COUNT",
      1,
      "STREAMS",
      tokens,
      ">",
    );
    expect(read).not.toBeNull();
    const lease = await take(fast);
    expect(lease.entry.id).toBe(entry.id);
    expect(lease.attempt).toBe(1);
  });

  it("lets every key of a completed request expire after its retention", async () => {
    const appId = `test/${randomUUID()}`;
    const store = replica(server, appId, { retention: 60_000 });
    const entry = queueEntry();
    await store.submit(entry);
    const lease = await take(store);
    await lease.log(line("x"));
    await lease.append({ type: "result", data: "1", key: "preview" });
    await lease.complete({ ok: true, output: "1" });
    const keys = await raw.keys(`troupe:{${appId}}:?:${entry.id}`);
    expect(keys.map((key) => key.split(":")[2]).sort()).toEqual(["e", "k", "l", "r"]);
    for (const key of keys) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it("gives 10,000 queued requests their exact positions (Redis memory and RSS in the log)", async () => {
    const store = replica(server, `test/${randomUUID()}`);
    const before = await usedMemory(raw);
    const rssBefore = process.memoryUsage().rss;
    const entries = Array.from({ length: 10_000 }, (_, i) =>
      queueEntry({ priority: i % 10 === 9 ? "low" : "normal", input: { prompt: `request ${i}` } }),
    );
    const positions: number[] = [];
    for (let start = 0; start < entries.length; start += 1000) {
      // One connection keeps the order of the calls: each sees the ones before it.
      positions.push(
        ...(await Promise.all(entries.slice(start, start + 1000).map((e) => store.submit(e)))),
      );
    }
    let normal = 0;
    let low = 0;
    entries.forEach((entry, i) => {
      expect(positions[i]).toBe(entry.priority === "low" ? normal + low++ : normal++);
    });
    // Now every normal one is ahead of every low one.
    const records = await Promise.all(entries.map((entry) => store.get(entry.id)));
    normal = 0;
    low = 0;
    records.forEach((record, i) => {
      expect(record?.position).toBe(entries[i]?.priority === "low" ? 9000 + low++ : normal++);
    });
    expect(store.health().queued).toBe(10_000);
    const after = await usedMemory(raw);
    console.log(
      `10,000 queued requests: Redis used_memory +${((after - before) / 1e6).toFixed(1)} MB ` +
        `(${Math.round((after - before) / 10_000)} B each), this process's RSS ` +
        `${(rssBefore / 1e6).toFixed(0)} -> ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
    );
    expect((await take(store)).entry.id).toBe(entries[0]?.id);
    expect((await store.get(entries[1]?.id ?? ""))?.position).toBe(0);
    expect((await store.get(entries[9]?.id ?? ""))?.position).toBe(8999);
  });
});

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

describe("the Redis store's event stream from a record the caller read", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("replays and follows from it as from its own read, and ends at the last event even when it is stale", async () => {
    const store = replica(server, `test/${randomUUID()}`);
    const entry = queueEntry();
    await store.submit(entry);
    const queued = await store.get(entry.id);
    expect(queued).toMatchObject({ phase: "IN_QUEUE" });
    const lease = await take(store);
    await lease.append(started);
    await lease.append(result(1));
    const running = await store.get(entry.id);
    expect(running).toMatchObject({ phase: "IN_PROGRESS" });

    const following = collect(store.events(entry.id, 0, signal(), running));
    await lease.append(result(2));
    await lease.append({ type: "done", data: '"ok"' });
    await lease.complete({ ok: true, output: '"ok"' });
    const all = ["1:started", "2:result", "3:result", "4:done"];
    expect(kinds(await following)).toEqual(all);
    // Read while it was queued, the record says nothing of its end: the stream still finds it.
    expect(kinds(await collect(store.events(entry.id, 1, signal(), queued)))).toEqual(all.slice(1));
  });
});

describe("the Redis store's packs: events appended while a write is in flight share stream entries", () => {
  let server: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    server = await RedisServer.start();
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    raw.disconnect();
    await server.stop();
  });

  /** A running request and its holder, with `count` results appended in one go, then `done`. */
  async function burst(
    store: RedisStore,
    appId: string,
    count: number,
    extra: (n: number) => StoredEventBody = result,
  ) {
    const entry = queueEntry();
    await store.submit(entry);
    const lease = await take(store);
    // Not awaited one by one: the first goes alone, the rest wait for it and go as one batch.
    await Promise.all(Array.from({ length: count }, (_, i) => lease.append(extra(i + 1))));
    await lease.append({ type: "done", data: '"ok"' });
    await lease.complete({ ok: true, output: '"ok"' });
    const entries = await raw.xlen(`troupe:{${appId}}:e:${entry.id}`);
    return { entry, entries };
  }

  it("stores 300 events in a few entries and replays them, and every resume point, exactly", async () => {
    const appId = `test/${randomUUID()}`;
    const store = replica(server, appId);
    // Data that looks like the pack's own framing, line breaks, and characters of 1 to 4 bytes.
    const odd = (n: number) =>
      n % 3 === 0
        ? { type: "error" as const, data: JSON.stringify({ n, s: "\u001f3\u001f" }), fatal: false }
        : { type: "result" as const, data: `{"n":${n},"s":"é€😀\\n\u001f"}` };
    const { entry, entries } = await burst(store, appId, 300, odd);
    expect(entries).toBeLessThan(10);
    const all = await collect(store.events(entry.id, 0, signal()));
    expect(all).toEqual([
      ...Array.from({ length: 300 }, (_, i) => ({ seq: i + 1, event: odd(i + 1) })),
      { seq: 301, event: { type: "done", data: '"ok"' } },
    ]);
    for (const after of [1, 2, 150, 299, 300]) {
      expect(await collect(store.events(entry.id, after, signal()))).toEqual(all.slice(after));
    }
  });

  it("follows a request as its packs arrive, each event once", async () => {
    const appId = `test/${randomUUID()}`;
    const store = replica(server, appId);
    const entry = queueEntry();
    await store.submit(entry);
    const lease = await take(store);
    await lease.append(started);
    const following = collect(store.events(entry.id, 0, signal()));
    await Promise.all(Array.from({ length: 200 }, (_, i) => lease.append(result(i + 1))));
    await Promise.all(Array.from({ length: 200 }, (_, i) => lease.append(result(i + 201))));
    await lease.append({ type: "done", data: '"ok"' });
    await lease.complete({ ok: true, output: '"ok"' });
    const seen = await following;
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 402 }, (_, i) => i + 1));
    expect(seen.slice(1, 401).map((e) => JSON.parse(e.event.data).n)).toEqual(
      Array.from({ length: 400 }, (_, i) => i + 1),
    );
  });

  it("keeps at most maxEvents of a request, the newest, dropping whole packs of at most maxEvents / 8", async () => {
    const appId = `test/${randomUUID()}`;
    const store = replica(server, appId, { maxEvents: 80 });
    const { entry, entries } = await burst(store, appId, 500);
    const kept = await collect(store.events(entry.id, 0, signal()));
    expect(kept.length).toBeLessThanOrEqual(80);
    expect(kept.length).toBeGreaterThanOrEqual(70);
    const first = kept[0]?.seq ?? 0;
    expect(kept.map((e) => e.seq)).toEqual(
      Array.from({ length: 501 - first + 1 }, (_, i) => first + i),
    );
    expect(kept.at(-1)?.event.type).toBe("done");
    expect(entries).toBeLessThanOrEqual(10);
    expect(Number(await raw.hget(`troupe:{${appId}}:r:${entry.id}`, "kept"))).toBe(kept.length);
  });

  it("gives latest-wins events entries of their own, so the next of a key drops exactly one", async () => {
    const appId = `test/${randomUUID()}`;
    const store = replica(server, appId);
    const keyed = (n: number) => (n % 10 === 0 ? { ...result(n), key: "preview" } : result(n));
    const { entry } = await burst(store, appId, 100, keyed);
    const kept = await collect(store.events(entry.id, 0, signal()));
    const expected = Array.from({ length: 100 }, (_, i) => i + 1).filter(
      (n) => n % 10 !== 0 || n === 100,
    );
    expect(kept.map((e) => e.seq)).toEqual([...expected, 101]);
    expect(kept.find((e) => e.seq === 100)?.event).toEqual({ ...result(100), key: "preview" });
    expect(Number(await raw.hget(`troupe:{${appId}}:r:${entry.id}`, "kept"))).toBe(kept.length);
  });
});
