/**
 * A request this replica holds in Redis. Appends, logs and the completion are written in the
 * order they were made, batched while a write is in flight, each numbered by the holder (events
 * from the number the record had when the lease began) so that a batch sent again after a
 * reconnect is recorded once. While Redis is away they wait; once it is back (and the leases
 * renewed) they go on. Every write is fenced: Redis refuses it unless this lease still holds the
 * request, and then the lease is lost.
 */
import { type Deferred, deferred } from "../internal/deferred.ts";
import { LeaseLostError } from "./errors.ts";
import { cancelledError, isLastEvent, lastEventOf } from "./event-bodies.ts";
import type { Lease, LogEntry, Outcome, QueueEntry, StoredEventBody } from "./queue-store.ts";

/** What a lease needs of its store. */
export interface LeaseWriter {
  /** Runs a batch of writes; `false` when Redis refused them (the lease is not held). */
  append(lease: RedisLease, events: readonly PendingEvent[]): Promise<boolean>;
  log(lease: RedisLease, lines: readonly PendingLog[]): Promise<boolean>;
  complete(lease: RedisLease, outcome: Outcome, last: PendingEvent | undefined): Promise<boolean>;
  /** Puts the request back in the queue: "handed", "cancel" (it was cancelled meanwhile) or "lost". */
  handBack(lease: RedisLease, reason: Error): Promise<HandBackReply>;
  /** Resolves once Redis can be written again after a connection failure; `false` if closed. */
  reconnected(): Promise<boolean>;
  /** Whether `error` is a failure to reach Redis (retried), rather than an error reply. */
  isConnectionError(error: unknown): boolean;
  /** Told when the lease ended (completed or lost): it is no longer renewed. */
  released(lease: RedisLease): void;
}

export type HandBackReply = "handed" | "cancel" | "lost";

export interface PendingEvent {
  readonly seq: number;
  readonly event: StoredEventBody;
}

export interface PendingLog {
  readonly n: number;
  readonly entry: LogEntry;
}

type Write =
  | { readonly kind: "event"; readonly item: PendingEvent; readonly done: Deferred<void> }
  | { readonly kind: "log"; readonly item: PendingLog; readonly done: Deferred<void> }
  | {
      readonly kind: "complete";
      readonly outcome: Outcome;
      /** The outcome's last event, when the holder appended none. */
      readonly last: PendingEvent | undefined;
      readonly done: Deferred<void>;
    }
  | {
      readonly kind: "handback";
      readonly reason: Error;
      readonly reply: Deferred<HandBackReply>;
      readonly done: Deferred<void>;
    };

/** The most writes sent in one script call, and about the most bytes of event data. */
const BATCH = 512;
const BATCH_BYTES = 4 << 20;

export class RedisLease implements Lease {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly queue: Write[] = [];
  private flushing = false;
  private lastSeq: number;
  private lastLog: number;
  private ended = false;
  private completing = false;
  private handingBack = false;
  private lost: LeaseLostError | undefined;
  /** The length of a batch whose send failed on the connection: the next send repeats it. */
  private resend: number | undefined;

  constructor(
    readonly entry: QueueEntry,
    readonly attempt: number,
    /** This attempt's lease in Redis: `<token id>/<attempt>`. */
    readonly id: string,
    /** The stream entry of the token this lease holds. */
    readonly token: string,
    seq: number,
    logs: number,
    private readonly writer: LeaseWriter,
  ) {
    this.signal = this.controller.signal;
    this.lastSeq = seq;
    this.lastLog = logs;
  }

  append(event: StoredEventBody): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (isLastEvent(event)) this.ended = true;
    return this.push({ kind: "event", item: { seq: ++this.lastSeq, event }, done: deferred() });
  }

  log(entry: LogEntry): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.push({ kind: "log", item: { n: ++this.lastLog, entry }, done: deferred() });
  }

  complete(outcome: Outcome): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    this.completing = true;
    const last = this.ended ? undefined : { seq: ++this.lastSeq, event: lastEventOf(outcome) };
    this.ended = true;
    return this.push({ kind: "complete", outcome, last, done: deferred() });
  }

  /**
   * Puts the request back in the queue once the writes before it are recorded; later writes are
   * refused from now on. Redis out of reach is a `false` at once (no waiting for it: the replica
   * is stopping, and the lease running out hands the request on just the same).
   */
  async handBack(reason: Error): Promise<boolean> {
    if (this.refusal() !== undefined || this.handingBack) return false;
    this.handingBack = true;
    const reply = deferred<HandBackReply>();
    this.push({ kind: "handback", reason, reply, done: deferred() }).catch(() => {
      reply.resolve("lost");
    });
    switch (await reply.promise) {
      case "handed":
        this.lose(
          `Request ${this.entry.id} was handed back to the queue: this replica is stopping`,
        );
        return true;
      case "cancel":
        // Cancelled meanwhile: it is not run again; the holder completes it as usual.
        this.handingBack = false;
        this.cancel(cancelledError(this.entry.id));
        return false;
      case "lost":
        return false;
    }
  }

  /** The request was cancelled: its run should stop (its writes are still taken). */
  cancel(reason: Error): void {
    if (!this.signal.aborted) this.controller.abort(reason);
  }

  /** Another replica holds the request now: writes are refused from here on. */
  lose(
    message = `Request ${this.entry.id} was taken over by another replica: this one's writes are refused`,
  ): void {
    if (this.lost !== undefined) return;
    this.lost = new LeaseLostError(message);
    if (!this.signal.aborted) this.controller.abort(this.lost);
    for (const write of this.queue.splice(0)) write.done.reject(this.lost);
    this.writer.released(this);
  }

  /** `true` once `complete` was called: a renewal that finds the lease gone is no loss. */
  get isCompleting(): boolean {
    return this.completing;
  }

  private refusal(): LeaseLostError | undefined {
    if (this.lost !== undefined) return this.lost;
    if (this.handingBack) {
      return new LeaseLostError(`Request ${this.entry.id} is being handed back to the queue`);
    }
    if (this.completing) {
      return new LeaseLostError(`Request ${this.entry.id} was completed: its lease is released`);
    }
    return undefined;
  }

  private push(write: Write): Promise<void> {
    this.queue.push(write);
    if (!this.flushing) {
      this.flushing = true;
      void this.flush();
    }
    return write.done.promise;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0 && this.lost === undefined) {
      const batch = this.nextBatch();
      let held: boolean;
      try {
        held = await this.send(batch);
      } catch (error) {
        if (batch[0]?.kind === "handback") {
          // Not retried: the lease running out hands the request on instead.
          batch[0].reply.resolve("lost");
          this.queue.splice(0, 1);
          batch[0].done.resolve();
          continue;
        }
        if (this.writer.isConnectionError(error) && (await this.writer.reconnected())) {
          // Sent again as it was (it may have been recorded): the same writes, the same entries.
          this.resend = batch.length;
          continue;
        }
        for (const write of this.queue.splice(0)) write.done.reject(error);
        break;
      }
      if (!held) {
        this.lose();
        break;
      }
      this.resend = undefined;
      this.queue.splice(0, batch.length);
      for (const write of batch) write.done.resolve();
      if (batch[0]?.kind === "complete") this.writer.released(this);
    }
    this.flushing = false;
  }

  /**
   * The writes at the front of the queue that go in one call: all events, all logs, or a
   * completion or hand-back alone.
   */
  private nextBatch(): Write[] {
    const first = this.queue[0];
    if (first === undefined) return [];
    if (first.kind === "complete" || first.kind === "handback") return [first];
    const batch: Write[] = [];
    const most = this.resend ?? BATCH;
    let bytes = 0;
    for (const write of this.queue) {
      if (write.kind !== first.kind || batch.length >= most || bytes > BATCH_BYTES) break;
      batch.push(write);
      if (write.kind === "event") bytes += write.item.event.data.length;
    }
    return batch;
  }

  private send(batch: readonly Write[]): Promise<boolean> {
    const first = batch[0];
    switch (first?.kind) {
      case "event":
        return this.writer.append(
          this,
          batch.map((write) => (write as Extract<Write, { kind: "event" }>).item),
        );
      case "log":
        return this.writer.log(
          this,
          batch.map((write) => (write as Extract<Write, { kind: "log" }>).item),
        );
      case "complete":
        return this.writer.complete(this, first.outcome, first.last);
      case "handback":
        return this.writer.handBack(this, first.reason).then((reply) => {
          first.reply.resolve(reply);
          return reply !== "lost";
        });
      default:
        return Promise.resolve(true);
    }
  }
}
