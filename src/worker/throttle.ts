/** Timer functions, injectable so tests drive time by hand. */
export interface ThrottleClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ThrottleClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Lane<T> {
  /** Items added to this lane so far (for `addEvery`). */
  count: number;
  lastSentAt: number;
  waiting: T | undefined;
  timer: unknown;
}

/**
 * Rate limit per key: the first item of a key goes out at once, later ones at most every
 * `interval` ms. An item that arrives too soon waits for the end of the interval, replaced by any
 * newer item of the same key (latest wins), so the consumer always ends up with the newest one.
 */
export class Throttle<T> {
  private readonly lanes = new Map<string, Lane<T>>();

  constructor(
    private readonly send: (item: T) => void,
    private readonly clock: ThrottleClock = realClock,
  ) {}

  add(key: string, interval: number, item: T): void {
    const now = this.clock.now();
    const lane = this.lane(key);
    const due = lane.lastSentAt + interval;
    if (lane.timer === undefined && now >= due) {
      lane.lastSentAt = now;
      this.send(item);
      return;
    }
    lane.waiting = item;
    if (lane.timer === undefined) {
      const target = lane;
      lane.timer = this.clock.setTimeout(() => this.release(target), due - now);
    }
  }

  /**
   * Rate limit by count: the 1st, (n+1)th, (2n+1)th… item of a key go out at once; the others
   * wait, replaced by newer ones, and the newest is sent by {@link flush} when the call ends.
   */
  addEvery(key: string, n: number, item: T): void {
    const lane = this.lane(key);
    if (lane.count++ % n === 0) {
      lane.waiting = undefined;
      this.send(item);
    } else {
      lane.waiting = item;
    }
  }

  private lane(key: string): Lane<T> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = {
        count: 0,
        lastSentAt: Number.NEGATIVE_INFINITY,
        waiting: undefined,
        timer: undefined,
      };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Sends every waiting item now (the call is ending: its newest results must not be lost). */
  flush(): void {
    for (const lane of this.lanes.values()) {
      if (lane.timer !== undefined) this.clock.clearTimeout(lane.timer);
      this.release(lane);
    }
  }

  /** Drops every waiting item (the call was cancelled). */
  clear(): void {
    for (const lane of this.lanes.values()) {
      if (lane.timer !== undefined) this.clock.clearTimeout(lane.timer);
    }
    this.lanes.clear();
  }

  private release(lane: Lane<T>): void {
    lane.timer = undefined;
    const item = lane.waiting;
    if (item === undefined) return;
    lane.waiting = undefined;
    lane.lastSentAt = this.clock.now();
    this.send(item);
  }
}
