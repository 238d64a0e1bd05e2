import type { SerializedError } from "../errors.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";
import { KeyedQueue } from "../internal/keyed-queue.ts";

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
  private readonly queue = new KeyedQueue<BufferedEvent>();
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
    return this.queue.size;
  }

  push(event: BufferedEvent): void {
    if (this.closed || this.outcome !== undefined) return;
    if (this.timed) this.lastPushAt = performance.now();
    this.queue.push(event, event.kind === "result" ? event.key : null);
    if (!this.pressured && this.queue.size >= this.highWaterMark) {
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
    const item = this.queue.shift();
    if (item !== undefined && this.pressured && this.queue.size <= this.highWaterMark >> 1) {
      this.pressured = false;
      if (!this.detached) this.onPressure(false);
    }
    return item;
  }

  /** Resolves when an event or the outcome is there to read. */
  wait(): Promise<void> {
    if (this.queue.size > 0 || this.outcome !== undefined || this.closed) return Promise.resolve();
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
    this.queue.clear();
    if (this.pressured) {
      this.pressured = false;
      if (!this.detached) this.onPressure(false);
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve();
    }
  }
}
