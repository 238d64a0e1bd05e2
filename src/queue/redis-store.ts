/**
 * The queue in a Redis that every replica of one app shares (docs/queue.md): global positions,
 * delivery to whichever replica has a free runner, leases that another replica takes over when
 * their holder stops renewing, fenced writes, events any replica can replay and follow, and
 * retention. Every key of an app starts with `troupe:{<appId>}:`.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { InvalidArgumentError } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import { deferred } from "../internal/deferred.ts";
import { QueueUnavailableError } from "./errors.ts";
import { cancelledError, cancelledPublicError, isLastEvent } from "./event-bodies.ts";
import { fatalFlag, packEvents, unpackEvents } from "./event-pack.ts";
import type {
  CancelResult,
  Lease,
  LogEntry,
  Outcome,
  QueueEntry,
  QueueStore,
  RequestRecord,
  StoredEvent,
  StoredEventBody,
  StoreHealth,
  StoreOptions,
} from "./queue-store.ts";
import { QueuedDeadlines, requestTimeoutError } from "./queued-deadlines.ts";
import { isConnectionError, RedisConnections } from "./redis-connections.ts";
import {
  type HandBackReply,
  type LeaseWriter,
  type PendingEvent,
  type PendingLog,
  RedisLease,
} from "./redis-lease.ts";
import {
  APPEND,
  ASSIGN,
  CANCEL,
  COMPLETE,
  EXPIRE,
  HANDBACK,
  LOG,
  RECORD,
  RENEW,
  type RedisScript,
  SUBMIT,
  TAKEOVER,
} from "./redis-scripts.ts";
import { type ResolvedStoreOptions, resolveStoreOptions } from "./store-options.ts";
import { untilAborted } from "./until-aborted.ts";

export interface RedisStoreOptions extends StoreOptions {
  /** The Redis every replica of the app shares: `redis://host:6379` (or `rediss://` for TLS). */
  readonly url: string;
  /** The app id (`owner/alias`): replicas of one app id share one queue. */
  readonly appId: string;
  /** This replica's name in the token stream's consumer group. @default `<host>-<pid>-<random>` */
  readonly consumer?: string;
  /** Told of failures of the store's own background work (renewals). @default ignore them */
  readonly onError?: (error: unknown, message: string) => void;
}

/** Stream entries read per call. */
const PAGE = 512;
/** The most events in one stream entry (fewer where maxEvents / 8 is fewer: see `keep` in the scripts). */
const PACK = 512;
/** How long a follower's blocking read waits before it looks at the request's record again. */
const FOLLOW_BLOCK = 15_000;

/**
 * A {@link QueueStore} in Redis, shared by every replica of one app.
 *
 * @example
 * const store = new RedisStore({ url: "redis://127.0.0.1:6379", appId: "acme/sdxl" });
 * const lease = await store.take(signal); // when a runner is free
 */
export class RedisStore implements QueueStore {
  private readonly options: ResolvedStoreOptions;
  private readonly prefix: string;
  /** KEYS[1] of every script: routes it to the app's slot in a Redis Cluster. */
  private readonly slotKey: string;
  private readonly consumer: string;
  private readonly connections: RedisConnections;
  private readonly held = new Map<string, RedisLease>();
  /** Who waits for queue positions to move (status streams). */
  private readonly movedListeners = new Set<() => void>();
  private readonly writer: LeaseWriter;
  /** The most events packed in one stream entry. */
  private readonly packSize: number;
  /** The x-fal-request-timeout of requests submitted here, while they may still be queued. */
  private readonly deadlines: QueuedDeadlines;
  private readonly onError: (error: unknown, message: string) => void;
  private renewal: NodeJS.Timeout | undefined;
  /** Settles when the last `take()` in line is done. */
  private takers: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.options = resolveStoreOptions(options);
    this.packSize = Math.min(PACK, Math.floor(this.options.maxEvents / 8));
    this.deadlines = new QueuedDeadlines(this.options.now, (entry) => {
      this.expire(entry).catch((error: unknown) =>
        this.onError(error, `Failing queued request ${entry.id} at its timeout failed`),
      );
    });
    this.prefix = `troupe:{${options.appId}}:`;
    this.slotKey = `${this.prefix}waiting`;
    this.consumer =
      options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.onError = options.onError ?? (() => {});
    this.connections = new RedisConnections(
      options.url,
      () => this.caughtUp(),
      (error) => this.onError(error, "Catching up with Redis after it came back failed"),
    );
    const { subscriber } = this.connections;
    subscriber.on("message", (channel: string, id: string) => {
      if (channel === `${this.prefix}moved`) {
        for (const listener of [...this.movedListeners]) listener();
        return;
      }
      this.held.get(id)?.cancel(cancelledError(id));
    });
    subscriber.subscribe(`${this.prefix}cancel`, `${this.prefix}moved`).catch(() => {});
    this.writer = this.leaseWriter();
  }

  async submit(entry: QueueEntry): Promise<number> {
    const [position, queued] = (await this.command(SUBMIT, [
      entry.id,
      JSON.stringify(entry),
      entry.priority === "low" ? "1" : "0",
    ])) as [number, number];
    if (position < 0) {
      throw new InvalidArgumentError(`Expected a new request id, got ${entry.id} again`);
    }
    this.queued = queued;
    this.deadlines.add(entry);
    return position;
  }

  /**
   * Completes `entry` with REQUEST_TIMEOUT if it is still queued when its x-fal-request-timeout
   * runs out (whichever replica it waits for). If Redis cannot be reached then, the replica that
   * takes it fails it as its run begins.
   */
  private async expire(entry: QueueEntry): Promise<void> {
    const waiting = (await this.command(EXPIRE, [
      entry.id,
      this.options.now(),
      this.options.retention,
      this.options.maxEvents,
      JSON.stringify(publicError(requestTimeoutError(entry), entry.id)),
    ])) as number;
    if (waiting < 0) return;
    this.queued = waiting;
    await this.reportCompleted(entry.id);
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    const reply = (await this.command(RECORD, [id])) as
      | [string, RequestRecord["phase"], number, string, string, string, number, number]
      | null;
    if (reply === null) return undefined;
    const [entry, phase, attempt, startedAt, completedAt, outcome, position, queued] = reply;
    this.queued = queued;
    // The store's clock decides expiry (Redis's own expiry frees the memory).
    if (completedAt !== "" && Number(completedAt) + this.options.retention <= this.options.now()) {
      return undefined;
    }
    return {
      entry: JSON.parse(entry) as QueueEntry,
      phase,
      ...(phase === "IN_QUEUE" && position >= 0 ? { position } : {}),
      attempt,
      ...(startedAt === "" ? {} : { startedAt: Number(startedAt) }),
      ...(completedAt === "" ? {} : { completedAt: Number(completedAt) }),
      ...(outcome === "" ? {} : { outcome: JSON.parse(outcome) as Outcome }),
    };
  }

  async logs(id: string): Promise<LogEntry[]> {
    if ((await this.get(id)) === undefined) return [];
    const lines = await this.reach(() => this.connections.main.lrange(this.key("l", id), 0, -1));
    return lines.map((line) => JSON.parse(line) as LogEntry);
  }

  async *events(
    id: string,
    afterSeq: number,
    signal: AbortSignal,
    known?: RequestRecord,
  ): AsyncIterable<StoredEvent> {
    let seq = afterSeq;
    // Read once per pass, before it: the caller's read serves the first.
    let given = known;
    const stream = this.key("e", id);
    // Once the request was found, Redis going away means waiting for it (a first read fails).
    let found = false;
    while (!signal.aborted) {
      if (found && !(await this.connections.whenReady(signal))) return;
      try {
        // Read before the replay: if it was completed then, its last event is in the stream.
        const record = given ?? (await this.get(id));
        given = undefined;
        if (record === undefined) return;
        found = true;
        for (;;) {
          const page = await this.reach(() =>
            this.connections.main.xrange(stream, `(0-${seq}`, "+", "COUNT", PAGE),
          );
          for (const [entryId, fields] of page) {
            for (const event of entryEvents(entryId, fields)) {
              // A pack may begin at or before `seq`: its first events were read already.
              if (event.seq <= seq) continue;
              yield event;
              seq = event.seq;
              if (isLastEvent(event.event)) return;
            }
          }
          if (page.length < PAGE) break;
        }
        if (record.phase === "COMPLETED") return;
        for (;;) {
          const page = await this.follow(stream, seq, signal);
          if (page === undefined) break;
          for (const event of page) {
            if (event.seq <= seq) continue;
            yield event;
            seq = event.seq;
            if (isLastEvent(event.event)) return;
          }
        }
      } catch (error) {
        if (!found || !QueueUnavailableError.isInstance(error)) throw error;
      }
    }
  }

  async cancel(id: string): Promise<CancelResult> {
    if ((await this.get(id)) === undefined) return "NOT_FOUND";
    const reply = (await this.command(CANCEL, [
      id,
      this.options.now(),
      this.options.retention,
      this.options.maxEvents,
      JSON.stringify(cancelledPublicError(id)),
    ])) as CancelResult | [CancelResult, number, 0 | 1];
    if (typeof reply === "string") return reply;
    this.queued = reply[1];
    // A queued request is completed by the cancel itself: no holder will report it.
    if (reply[2] === 1) await this.reportCompleted(id);
    return reply[0];
  }

  /**
   * One taker of this replica reads the token stream at a time, the others queue behind it: the
   * one waiting longest gets the next request, and one blocked read serves them all.
   */
  async take(signal: AbortSignal): Promise<Lease | undefined> {
    const before = this.takers;
    const turn = deferred();
    this.takers = turn.promise;
    try {
      if (!(await untilAborted(before, signal))) return undefined;
      return await this.takeNext(signal);
    } finally {
      // A taker that gave up early passes its turn on only when the one before it is done.
      void before.then(() => turn.resolve());
    }
  }

  private async takeNext(signal: AbortSignal): Promise<Lease | undefined> {
    while (!signal.aborted && !this.closed) {
      if (!(await this.connections.whenReady(signal))) return undefined;
      try {
        const reply = (await TAKEOVER.run(this.connections.main, this.slotKey, [
          this.prefix,
          this.consumer,
          this.options.leaseTime,
          this.options.maxAttempts,
          this.options.now(),
          this.options.retention,
          this.options.maxEvents,
        ])) as TakeReply;
        if (reply[0] === "lease") return this.hold(reply);
        if (reply[0] === "exhausted") await this.reportCompleted(reply[1]);
        if (reply[0] !== "wait") continue;
        this.queued = reply[2];
        // Wait for a new token, or until the next held lease could expire.
        const wait =
          reply[1] < 0 ? this.options.leaseTime : Math.min(reply[1], this.options.leaseTime);
        const token = await this.nextToken(wait, signal);
        if (token === undefined) continue;
        const assigned = (await ASSIGN.run(this.connections.main, this.slotKey, [
          this.prefix,
          token,
          this.consumer,
          this.options.now(),
        ])) as TakeReply;
        if (assigned[0] === "lease") return this.hold(assigned);
      } catch (error) {
        if (signal.aborted || this.closed) return undefined;
        if (isConnectionError(error)) continue;
        if (error instanceof Error && error.message.startsWith("NOGROUP")) {
          await this.ensureGroup();
          continue;
        }
        throw error;
      }
    }
    return undefined;
  }

  /** Tells `onCompleted` of a request this replica's own script completed, if it did. */
  private async reportCompleted(id: string): Promise<void> {
    const record = await this.get(id);
    if (record?.phase === "COMPLETED" && record.outcome !== undefined) {
      this.options.onCompleted(record.entry, record.outcome);
    }
  }

  onMoved(listener: () => void): () => void {
    this.movedListeners.add(listener);
    return () => this.movedListeners.delete(listener);
  }

  health(): StoreHealth {
    return { connected: this.connections.connected, queued: this.queued };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deadlines.clear();
    clearInterval(this.renewal);
    for (const lease of [...this.held.values()]) lease.lose();
    this.connections.close();
  }

  private key(kind: "r" | "e" | "k" | "l", id: string): string {
    return `${this.prefix}${kind}:${id}`;
  }

  /** Runs a script; Redis out of reach is a QueueUnavailableError. */
  private command(script: RedisScript, args: readonly (string | number)[]): Promise<unknown> {
    return this.reach(() =>
      script.run(this.connections.main, this.slotKey, [this.prefix, ...args]),
    );
  }

  /** Runs `call` once connected; Redis out of reach is a QueueUnavailableError. */
  private async reach<T>(call: () => Promise<T>): Promise<T> {
    await this.connections.firstAttempt;
    if (this.closed) throw new QueueUnavailableError("The queue's store is closed");
    if (!this.connections.connected) {
      throw new QueueUnavailableError("The queue's Redis cannot be reached");
    }
    try {
      return await call();
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      throw new QueueUnavailableError("The queue's Redis cannot be reached", { cause: error });
    }
  }

  /** The next events after `seq` as they are appended; `undefined` after FOLLOW_BLOCK or an abort. */
  private async follow(
    stream: string,
    seq: number,
    signal: AbortSignal,
  ): Promise<StoredEvent[] | undefined> {
    const reply = await this.blocking(signal, (redis) =>
      redis.xread("COUNT", PAGE, "BLOCK", FOLLOW_BLOCK, "STREAMS", stream, `0-${seq}`),
    );
    const entries = reply?.[0]?.[1];
    return entries?.flatMap(([entryId, fields]) => entryEvents(entryId, fields));
  }

  /**
   * The next token delivered to this replica, waiting at most `wait` ms: often until a held lease
   * runs out. Redis ends a blocked read at its timeout only on its next cron tick (`hz`, 10 a
   * second by default), up to 100 ms late, so the read is also ended from here at `wait`.
   */
  private async nextToken(wait: number, signal: AbortSignal): Promise<string | undefined> {
    const reply = (await this.blocking(signal, (redis) =>
      this.unblockedAfter(redis, wait, () =>
        redis.call(
          "XREADGROUP",
          "GROUP",
          "runners",
          this.consumer,
          "COUNT",
          1,
          "BLOCK",
          Math.max(1, Math.ceil(wait)),
          "STREAMS",
          `${this.prefix}tokens`,
          ">",
        ),
      ),
    )) as [string, [string, string[]][]][] | null | undefined;
    return reply?.[0]?.[1][0]?.[0];
  }

  /**
   * Runs `read`, a blocking command on `redis`, and after `ms` unblocks it from the command
   * connection (`CLIENT UNBLOCK <id> TIMEOUT` answers it as its own timeout would). The id is
   * asked on `redis` just before the read, so it is that connection's as it is now; the unblock
   * is answered before `redis` can go back to the pool, so it never ends another read. If it
   * cannot be sent, Redis's own timeout still ends the read.
   */
  private async unblockedAfter<T>(redis: Redis, ms: number, read: () => Promise<T>): Promise<T> {
    const id = redis.client("ID");
    const reading = read();
    let unblocked: Promise<unknown> | undefined;
    const timer = setTimeout(() => {
      unblocked = id
        .then((client) => this.connections.main.client("UNBLOCK", client, "TIMEOUT"))
        .catch(() => {});
    }, ms);
    try {
      return await reading;
    } finally {
      clearTimeout(timer);
      await id.catch(() => {});
      await unblocked;
    }
  }

  /**
   * Runs a blocking read on a pooled connection; an abort ends it by closing that connection.
   * Redis away: waits until it is back, and resolves `undefined` for the caller to read again.
   */
  private async blocking<T>(
    signal: AbortSignal,
    read: (redis: Redis) => Promise<T>,
  ): Promise<T | undefined> {
    if (!(await this.connections.whenReady(signal))) return undefined;
    const redis = await this.connections.acquire();
    if (signal.aborted) {
      this.connections.release(redis);
      return undefined;
    }
    const onAbort = () => this.connections.discard(redis);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const result = await read(redis);
      this.connections.release(redis);
      return result;
    } catch (error) {
      this.connections.discard(redis);
      if (signal.aborted || this.closed || isConnectionError(error)) return undefined;
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  private hold(reply: LeaseReply): Lease {
    const [, id, entry, attempt, leaseId, seq, logs, cancel, queued] = reply;
    this.queued = queued;
    const token = leaseId.slice(0, leaseId.lastIndexOf("/"));
    const lease = new RedisLease(
      JSON.parse(entry) as QueueEntry,
      attempt,
      leaseId,
      token,
      seq,
      logs,
      this.writer,
    );
    this.held.set(id, lease);
    this.deadlines.delete(id);
    if (cancel === "1") lease.cancel(cancelledError(id));
    this.renewal ??= setInterval(() => void this.renew(), this.options.leaseTime / 3).unref();
    return lease;
  }

  /** Renews every held lease; a lease found lost or cancelled is told so. */
  private async renew(): Promise<void> {
    const leases = [...this.held.values()];
    if (leases.length === 0 || !this.connections.connected) return;
    await this.renewNow(leases).catch((error: unknown) => {
      if (!isConnectionError(error)) this.onError(error, "Renewing the queue's leases failed");
    });
  }

  private async renewNow(leases: readonly RedisLease[]): Promise<void> {
    if (leases.length === 0) return;
    const args: (string | number)[] = [this.prefix, this.consumer];
    for (const lease of leases) args.push(lease.entry.id, lease.id, lease.token);
    const reply = (await RENEW.run(this.connections.main, this.slotKey, args)) as (
      | string
      | number
    )[];
    leases.forEach((lease, i) => {
      const status = reply[i];
      if (status === "lost" && !lease.isCompleting) lease.lose();
      else if (status === "cancel") lease.cancel(cancelledError(lease.entry.id));
    });
    this.queued = Number(reply[leases.length] ?? this.queued);
  }

  /** After (re)connecting: the consumer group exists, and held leases are renewed first. */
  private async caughtUp(): Promise<void> {
    await this.ensureGroup();
    await this.renewNow([...this.held.values()]);
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.connections.main.xgroup(
        "CREATE",
        `${this.prefix}tokens`,
        "runners",
        "0",
        "MKSTREAM",
      );
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("BUSYGROUP"))) throw error;
    }
  }

  private leaseWriter(): LeaseWriter {
    const run = async (script: RedisScript, lease: RedisLease, args: (string | number)[]) =>
      (await script.run(this.connections.main, this.slotKey, [
        this.prefix,
        lease.entry.id,
        lease.id,
        ...args,
      ])) === 1;
    return {
      append: (lease, events) =>
        run(APPEND, lease, entryArgs([this.options.maxEvents], events, this.packSize)),
      log: (lease, lines) => run(LOG, lease, [this.options.maxEvents, ...lines.flatMap(logArgs)]),
      complete: (lease, outcome, last) =>
        run(COMPLETE, lease, [
          JSON.stringify(outcome),
          this.options.now(),
          this.options.retention,
          this.options.maxEvents,
          ...(last === undefined ? [] : pushEventArgs([], last)),
        ]),
      handBack: async (lease, reason) =>
        !this.connections.connected
          ? "lost"
          : ((await HANDBACK.run(this.connections.main, this.slotKey, [
              this.prefix,
              lease.entry.id,
              lease.id,
              this.options.maxEvents,
              JSON.stringify({
                attempt: lease.attempt + 1,
                error: publicError(reason, lease.entry.id),
              }),
            ])) as HandBackReply),
      reconnected: () => this.connections.whenReady(),
      isConnectionError,
      released: (lease) => {
        if (this.held.get(lease.entry.id) === lease) this.held.delete(lease.entry.id);
        if (this.held.size === 0) {
          clearInterval(this.renewal);
          this.renewal = undefined;
        }
      },
    };
  }
}

type LeaseReply = [
  "lease",
  id: string,
  entry: string,
  attempt: number,
  lease: string,
  seq: number,
  logs: number,
  cancel: string,
  queued: number,
];
type TakeReply =
  | LeaseReply
  | ["none"]
  | ["skip"]
  | ["exhausted", string]
  | ["wait", ms: number, queued: number];

/** An event's arguments to the scripts that append: seq, type, data, fatal ("", "1", "0"), key. */
function pushEventArgs(
  args: (string | number)[],
  { seq, event }: PendingEvent,
): (string | number)[] {
  args.push(seq, event.type, event.data, fatalFlag(event), event.key ?? "");
  return args;
}

function logArgs({ n, entry }: PendingLog): (string | number)[] {
  return [n, JSON.stringify(entry)];
}

/**
 * The APPEND script's arguments for `events` (consecutive numbers), 5 per stream entry: runs of
 * events without a latest-wins key go in packs of up to `packSize` (a run of one as itself), each
 * keyed event in an entry of its own so that the next of its key drops exactly it. The same
 * events always give the same entries, so a batch sent again is skipped whole.
 */
function entryArgs(
  args: (string | number)[],
  events: readonly PendingEvent[],
  packSize: number,
): (string | number)[] {
  let run: PendingEvent[] = [];
  const endRun = () => {
    const last = run[run.length - 1];
    if (last === undefined) return;
    if (run.length === 1) pushEventArgs(args, last);
    else args.push(last.seq, "*", packEvents(run.map(({ event }) => event)), run.length, "");
    run = [];
  };
  for (const event of events) {
    if (event.event.key !== undefined) {
      endRun();
      pushEventArgs(args, event);
      continue;
    }
    run.push(event);
    if (run.length >= packSize) endRun();
  }
  endRun();
  return args;
}

/** The events of a stream entry: a pack (fields n, p) or one event (`storedEvent`). */
function entryEvents(entryId: string, fields: string[]): StoredEvent[] {
  if (fields[0] !== "n") return [storedEvent(entryId, fields)];
  return unpackEvents(fields[3] ?? "", entrySeq(entryId), Number(fields[1]));
}

function entrySeq(entryId: string): number {
  return Number(entryId.slice(entryId.indexOf("-") + 1));
}

/** A stream entry (`0-<seq>`, fields t, d, f, k) as a stored event. */
function storedEvent(entryId: string, fields: string[]): StoredEvent {
  let type = "";
  let data = "";
  let fatal: boolean | undefined;
  let key: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1] ?? "";
    switch (fields[i]) {
      case "t":
        type = value;
        break;
      case "d":
        data = value;
        break;
      case "f":
        fatal = value === "1";
        break;
      case "k":
        key = value;
        break;
    }
  }
  const event = {
    type: type as StoredEventBody["type"],
    data,
    ...(fatal === undefined ? {} : { fatal }),
    ...(key === undefined ? {} : { key }),
  };
  return { seq: entrySeq(entryId), event };
}
