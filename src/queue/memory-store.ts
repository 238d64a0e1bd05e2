/**
 * The queue in this process: what `serve()` uses without Redis. Requests, events and logs live
 * as long as the process does; a lease never expires (if the process dies, everything it held
 * dies with it). Nothing polls: `take()` and `events()` wait on promises that `submit()` and the
 * holder's appends resolve.
 */
import { InvalidArgumentError } from "../errors.ts";
import { type PublicError, publicError } from "../events/public-error.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";
import { LeaseLostError, QueueUnavailableError } from "./errors.ts";
import {
  cancelledError,
  cancelledPublicError,
  fatalErrorEvent,
  isLastEvent,
  lastEventOf,
} from "./event-bodies.ts";
import { EventLog } from "./event-log.ts";
import type {
  CancelResult,
  Lease,
  LogEntry,
  Outcome,
  Phase,
  QueueEntry,
  QueueStore,
  RequestRecord,
  StoredEvent,
  StoredEventBody,
  StoreHealth,
  StoreOptions,
} from "./queue-store.ts";
import { QueuedDeadlines, requestTimeoutError } from "./queued-deadlines.ts";
import { type ResolvedStoreOptions, resolveStoreOptions } from "./store-options.ts";
import { untilAborted } from "./until-aborted.ts";

/** The longest delay a Node timer takes (about 24.8 days); longer retentions re-arm. */
const MAX_TIMER = 2 ** 31 - 1;

/** One request and everything kept of it. */
class Item {
  phase: Phase = "IN_QUEUE";
  attempt = 0;
  startedAt: number | undefined;
  completedAt: number | undefined;
  outcome: Outcome | undefined;
  readonly log: EventLog;
  readonly logs: LogEntry[] = [];
  /** Aborts the holder's lease signal (running requests only). */
  holder: AbortController | undefined;
  ended = false;
  expiry: NodeJS.Timeout | undefined;
  private change: Deferred<void> | undefined;

  constructor(
    readonly entry: QueueEntry,
    maxEvents: number,
  ) {
    this.log = new EventLog(maxEvents);
  }

  append(event: StoredEventBody): void {
    this.log.append(event);
    if (isLastEvent(event)) this.ended = true;
    this.changed();
  }

  /** Resolves at the next append (or when the item goes away). */
  nextChange(): Promise<void> {
    this.change ??= deferred();
    return this.change.promise;
  }

  changed(): void {
    const change = this.change;
    this.change = undefined;
    change?.resolve();
  }
}

/**
 * A {@link QueueStore} in one process's memory.
 *
 * @example
 * const store = new MemoryStore({ retention: 3_600_000 });
 * await store.submit(entry);
 * const lease = await store.take(signal);
 */
export class MemoryStore implements QueueStore {
  private readonly options: ResolvedStoreOptions;
  private readonly items = new Map<string, Item>();
  /** Ids waiting to run, by priority, oldest first. */
  private readonly waiting = { normal: [] as string[], low: [] as string[] };
  /** `take()` calls waiting for a request, oldest first. */
  private readonly takers: Deferred<Lease | undefined>[] = [];
  private closed = false;
  /** Who waits for queue positions to move (status streams). */
  private readonly movedListeners = new Set<() => void>();

  /** Queued requests' x-fal-request-timeout. */
  private readonly deadlines: QueuedDeadlines;

  constructor(options: StoreOptions = {}) {
    this.options = resolveStoreOptions(options);
    this.deadlines = new QueuedDeadlines(this.options.now, (entry) => {
      const item = this.items.get(entry.id);
      if (item?.phase === "IN_QUEUE")
        this.failQueued(item, publicError(requestTimeoutError(entry), entry.id));
    });
  }

  async submit(entry: QueueEntry): Promise<number> {
    if (this.closed) throw new QueueUnavailableError("The queue is closed");
    if (this.items.has(entry.id)) {
      throw new InvalidArgumentError(`Expected a new request id, got ${entry.id} again`);
    }
    this.items.set(entry.id, new Item(entry, this.options.maxEvents));
    this.waiting[entry.priority].push(entry.id);
    this.deadlines.add(entry);
    const position = this.positionOf(entry);
    // A normal request goes ahead of every low one: their positions moved.
    if (entry.priority === "normal" && this.waiting.low.length > 0) this.moved();
    this.dispatch();
    return position;
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    const item = this.find(id);
    if (item === undefined) return undefined;
    return {
      entry: item.entry,
      phase: item.phase,
      ...(item.phase === "IN_QUEUE" ? { position: this.positionOf(item.entry) } : {}),
      attempt: item.attempt,
      ...(item.startedAt === undefined ? {} : { startedAt: item.startedAt }),
      ...(item.completedAt === undefined ? {} : { completedAt: item.completedAt }),
      ...(item.outcome === undefined ? {} : { outcome: item.outcome }),
    };
  }

  async logs(id: string): Promise<LogEntry[]> {
    return [...(this.find(id)?.logs ?? [])];
  }

  async *events(id: string, afterSeq: number, signal: AbortSignal): AsyncIterable<StoredEvent> {
    const item = this.find(id);
    if (item === undefined) return;
    let seq = afterSeq;
    while (!signal.aborted) {
      const event = item.log.next(seq);
      if (event !== undefined) {
        yield event;
        seq = event.seq;
        if (isLastEvent(event.event)) return;
        continue;
      }
      // The last event is behind `afterSeq`, or was the last one yielded: nothing more will come.
      if (item.ended || this.items.get(id) !== item) return;
      if (!(await untilAborted(item.nextChange(), signal))) return;
    }
  }

  async cancel(id: string): Promise<CancelResult> {
    const item = this.find(id);
    if (item === undefined) return "NOT_FOUND";
    switch (item.phase) {
      case "COMPLETED":
        return "ALREADY_COMPLETED";
      case "IN_PROGRESS":
        item.holder?.abort(cancelledError(id));
        return "CANCELLATION_REQUESTED";
      case "IN_QUEUE":
        this.failQueued(item, cancelledPublicError(id));
        return "CANCELLATION_REQUESTED";
    }
  }

  /** A queued request leaves the queue and completes with `error`. */
  private failQueued(item: Item, error: PublicError): void {
    const queue = this.waiting[item.entry.priority];
    queue.splice(queue.indexOf(item.entry.id), 1);
    this.deadlines.delete(item.entry.id);
    this.moved();
    item.append(fatalErrorEvent(error));
    this.completed(item, { ok: false, error });
    this.options.onCompleted(item.entry, { ok: false, error });
  }

  take(signal: AbortSignal): Promise<Lease | undefined> {
    if (signal.aborted || this.closed) return Promise.resolve(undefined);
    const taker = deferred<Lease | undefined>();
    this.takers.push(taker);
    this.dispatch();
    const onAbort = () => {
      const index = this.takers.indexOf(taker);
      if (index >= 0) this.takers.splice(index, 1);
      taker.resolve(undefined);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return taker.promise.finally(() => signal.removeEventListener("abort", onAbort));
  }

  health(): StoreHealth {
    return {
      connected: !this.closed,
      queued: this.waiting.normal.length + this.waiting.low.length,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.deadlines.clear();
    for (const taker of this.takers.splice(0)) taker.resolve(undefined);
    for (const item of this.items.values()) {
      clearTimeout(item.expiry);
      item.changed();
    }
  }

  /** Hands waiting requests to waiting takers, best request to the longest-waiting taker. */
  private dispatch(): void {
    while (this.takers.length > 0) {
      const id = this.waiting.normal.shift() ?? this.waiting.low.shift();
      if (id === undefined) return;
      const item = this.items.get(id);
      if (item === undefined) continue;
      this.takers.shift()?.resolve(this.lease(item));
      this.moved();
    }
  }

  onMoved(listener: () => void): () => void {
    this.movedListeners.add(listener);
    return () => this.movedListeners.delete(listener);
  }

  /** Queue positions changed: tells whoever waits for that. */
  private moved(): void {
    for (const listener of [...this.movedListeners]) listener();
  }

  private lease(item: Item): Lease {
    const holder = new AbortController();
    item.phase = "IN_PROGRESS";
    this.deadlines.delete(item.entry.id);
    item.attempt++;
    item.startedAt = this.options.now();
    item.holder = holder;
    const { id } = item.entry;
    const held = () => {
      if (item.holder !== holder) {
        throw new LeaseLostError(`Request ${id} was completed: its lease is released`);
      }
    };
    return {
      entry: item.entry,
      attempt: item.attempt,
      signal: holder.signal,
      append: async (event) => {
        held();
        item.append(event);
      },
      log: async (entry) => {
        held();
        item.logs.push(entry);
        if (item.logs.length > this.options.maxEvents) item.logs.shift();
      },
      complete: async (outcome) => {
        held();
        if (!item.ended) item.append(lastEventOf(outcome));
        this.completed(item, outcome);
      },
    };
  }

  private completed(item: Item, outcome: Outcome): void {
    item.phase = "COMPLETED";
    item.outcome = outcome;
    item.completedAt = this.options.now();
    item.holder = undefined;
    this.expireLater(item);
  }

  /** Deletes `item` once its retention has passed on the store's clock. */
  private expireLater(item: Item): void {
    const left = (item.completedAt ?? 0) + this.options.retention - this.options.now();
    item.expiry = setTimeout(
      () => {
        if (this.find(item.entry.id) === item) this.expireLater(item);
      },
      Math.min(Math.max(left, 0), MAX_TIMER),
    );
    item.expiry.unref();
  }

  /** The live item of `id`: one whose retention passed is deleted here, whatever the timers did. */
  private find(id: string): Item | undefined {
    const item = this.items.get(id);
    if (item?.completedAt === undefined) return item;
    if (this.options.now() < item.completedAt + this.options.retention) return item;
    this.items.delete(id);
    clearTimeout(item.expiry);
    item.changed();
    return undefined;
  }

  private positionOf(entry: QueueEntry): number {
    const ahead = entry.priority === "low" ? this.waiting.normal.length : 0;
    return ahead + this.waiting[entry.priority].indexOf(entry.id);
  }
}
