/**
 * `x-fal-request-timeout` for a request that has not started: counted from its submission, it
 * may run out while the request still waits. The store it was submitted to then completes it
 * with REQUEST_TIMEOUT where it waits (its status says so at once, its webhook is told) instead of
 * leaving it queued until a runner is free. A request a replica takes past its time (the
 * submitting replica died before it ran out) fails as its run begins (queue-worker.ts).
 */
import { RequestTimeoutError } from "../errors.ts";
import type { QueueEntry } from "./queue-store.ts";

/** The error a request that ran past its `x-fal-request-timeout` ends with. */
export function requestTimeoutError(entry: QueueEntry): RequestTimeoutError {
  const timeout = entry.timeout ?? 0;
  return new RequestTimeoutError(
    `Request ${entry.id} timed out after ${timeout / 1000} s (x-fal-request-timeout)`,
    { details: { timeout } },
  );
}

/** The longest delay setTimeout takes as it is (about 24.8 days). */
const MAX_DELAY = 2 ** 31 - 1;

/** One timer per queued request with a timeout, each calling `expire` when its time runs out. */
export class QueuedDeadlines {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly now: () => number,
    private readonly expire: (entry: QueueEntry) => void,
  ) {}

  /** Arms `entry`'s timer, if it has a timeout. */
  add(entry: QueueEntry): void {
    if (entry.timeout === undefined) return;
    const left = entry.submittedAt + entry.timeout - this.now();
    // setTimeout fires at once past 2^31 - 1 ms: a longer wait is made of several.
    const timer = setTimeout(
      () => {
        if (left > MAX_DELAY) return this.add(entry);
        this.timers.delete(entry.id);
        this.expire(entry);
      },
      Math.max(0, Math.min(left, MAX_DELAY)),
    );
    timer.unref();
    this.timers.set(entry.id, timer);
  }

  /** The request started or completed: its timer is no longer needed. */
  delete(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
