import type { SerializedError } from "../errors.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";

/** One streamed item of a request, as it arrived from a rank (results stay encoded until read). */
export type BufferedEvent =
  | {
      readonly kind: "result";
      readonly rank: number;
      readonly bytes: Uint8Array;
      readonly key: string | null;
    }
  | { readonly kind: "streamError"; readonly error: SerializedError }
  | { readonly kind: "queued"; readonly position: number }
  | { readonly kind: "started" };

/** How a request ended: rank 0's encoded output, or the error that failed it. */
export type Outcome =
  | { readonly ok: true; readonly output: Uint8Array }
  | { readonly ok: false; readonly error: Error };

/**
 * The bounded queue between the ranks of one request and its consumer. Above `highWaterMark`
 * unread results it asks the producer to pause (`onPressure(true)`), and to resume once the
 * consumer has read it down to half. A result with a latest-wins key replaces an unread result
 * with the same key; nothing else is ever dropped while the consumer is there.
 */
export class EventBuffer {
  private items: (BufferedEvent | null)[] = [];
  private head = 0;
  private live = 0;
  private readonly keyIndex = new Map<string, number>();
  private waiter: Deferred<void> | undefined;
  private pressured = false;
  private closed = false;
  private detached = false;
  outcome: Outcome | undefined;
  /** Resolves with the outcome as soon as it is known, however far the consumer has read. */
  readonly settled: Promise<Outcome>;
  private readonly settle: (outcome: Outcome) => void;
  /** `performance.now()` of the last event pushed, when the buffer is `timed`. */
  lastPushAt = 0;

  constructor(
    private readonly highWaterMark: number,
    private readonly onPressure: (paused: boolean) => void,
    /** Stamp each push (`lastPushAt`), for a streaming inactivity timeout. */
    private readonly timed = false,
  ) {
    const { promise, resolve } = deferred<Outcome>();
    this.settled = promise;
    this.settle = resolve;
  }

  get size(): number {
    return this.live;
  }

  push(event: BufferedEvent): void {
    if (this.closed || this.outcome !== undefined) return;
    if (this.timed) this.lastPushAt = performance.now();
    if (event.kind === "result" && event.key !== null) {
      const previous = this.keyIndex.get(event.key);
      if (previous !== undefined && this.items[previous] != null) {
        this.items[previous] = null;
        this.live--;
      }
      this.keyIndex.set(event.key, this.items.length);
    }
    this.items.push(event);
    this.live++;
    if (!this.pressured && this.live >= this.highWaterMark) {
      this.pressured = true;
      if (!this.detached) this.onPressure(true);
    }
    this.wake();
  }

  /** Records how the request ended; the consumer reads it after every buffered event. */
  finish(outcome: Outcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.settle(outcome);
    this.wake();
  }

  /** Fails the request now: buffered events are dropped, the error is what the consumer reads next. */
  fail(error: Error): void {
    if (this.outcome !== undefined) return;
    this.clear();
    this.outcome = { ok: false, error };
    this.settle(this.outcome);
    this.wake();
  }

  /** Takes the next event, or undefined when none is buffered. */
  take(): BufferedEvent | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head] = null;
      this.head++;
      if (item === null || item === undefined) continue;
      this.live--;
      if (
        item.kind === "result" &&
        item.key !== null &&
        this.keyIndex.get(item.key) === this.head - 1
      ) {
        this.keyIndex.delete(item.key);
      }
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 4096 && this.head * 2 > this.items.length) {
        this.compact();
      }
      if (this.pressured && this.live <= this.highWaterMark >> 1) {
        this.pressured = false;
        if (!this.detached) this.onPressure(false);
      }
      return item;
    }
    return undefined;
  }

  /** Resolves when an event or the outcome is there to read. */
  wait(): Promise<void> {
    if (this.live > 0 || this.outcome !== undefined || this.closed) return Promise.resolve();
    this.waiter ??= deferred<void>();
    return this.waiter.promise;
  }

  /** Stops asking the producer to pause: the request is over, its ranks are free. */
  detach(): void {
    this.detached = true;
  }

  /** The consumer left: drop everything and release backpressure. */
  close(): void {
    this.closed = true;
    this.clear();
    this.wake();
  }

  private clear(): void {
    this.items = [];
    this.head = 0;
    this.live = 0;
    this.keyIndex.clear();
    if (this.pressured) {
      this.pressured = false;
      if (!this.detached) this.onPressure(false);
    }
  }

  private compact(): void {
    const rest = this.items.slice(this.head);
    this.items = rest;
    this.head = 0;
    this.keyIndex.clear();
    rest.forEach((item, index) => {
      if (item?.kind === "result" && item.key !== null) this.keyIndex.set(item.key, index);
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve();
    }
  }
}
