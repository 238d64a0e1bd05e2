import type { Clock } from "../../src/client/clock.ts";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";

interface Timer {
  readonly at: number;
  readonly ms: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when the test says so. `armed(n)` resolves once `setTimeout` has been
 * called `n` times: the client arms its idle timer each time it starts waiting for bytes, so the
 * test can tell when the client has read what was sent so far.
 */
export class ManualClock implements Clock {
  now = 0;
  /** Every `setTimeout` delay asked for, in order. */
  readonly delays: number[] = [];
  private next = 1;
  private readonly timers = new Map<number, Timer>();
  private readonly waiters: { count: number; done: Deferred<void> }[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.next++;
    this.timers.set(handle, { at: this.now + ms, ms, callback });
    this.delays.push(ms);
    for (const waiter of [...this.waiters]) {
      if (this.delays.length >= waiter.count) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.done.resolve();
      }
    }
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** How many timers have been set so far. */
  get count(): number {
    return this.delays.length;
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.timers.size;
  }

  /** Resolves once `count` timers have been set in all. */
  armed(count: number): Promise<void> {
    if (this.delays.length >= count) return Promise.resolve();
    const done = deferred();
    this.waiters.push({ count, done });
    return done.promise;
  }

  /** Moves time on by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    this.now += ms;
    for (;;) {
      let due: [number, Timer] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= this.now && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) return;
      this.timers.delete(due[0]);
      due[1].callback();
    }
  }
}
