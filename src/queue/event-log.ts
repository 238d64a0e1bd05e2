import type { StoredEvent, StoredEventBody } from "./queue-store.ts";

/**
 * One request's events in memory, numbered from 1: at most `max` are kept (the oldest dropped
 * first), and an event with a latest-wins `key` drops the previous one of that key. Dropped
 * events leave holes, compacted away once they outnumber the kept ones, so memory stays
 * proportional to what is kept however many previews replace each other; `next(seq)` finds the
 * first kept event after any number by binary search.
 */
export class EventLog {
  /** Ascending event numbers, one per slot of `events`. */
  private seqs: number[] = [];
  /** The events, `undefined` where one was dropped. */
  private events: (StoredEvent | undefined)[] = [];
  /** Slots before this one are all holes. */
  private head = 0;
  private kept = 0;
  private last = 0;
  private readonly newestOfKey = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** How many events are kept. */
  get size(): number {
    return this.kept;
  }

  /** Appends `event` and returns it numbered. */
  append(event: StoredEventBody): StoredEvent {
    const stored: StoredEvent = { seq: ++this.last, event };
    if (event.key !== undefined) {
      const previous = this.newestOfKey.get(event.key);
      if (previous !== undefined) this.drop(this.indexAfter(previous - 1));
      this.newestOfKey.set(event.key, stored.seq);
    }
    this.seqs.push(stored.seq);
    this.events.push(stored);
    this.kept++;
    while (this.kept > this.max) this.drop(this.head);
    if (this.events.length - this.kept > this.kept + 64) this.compact();
    return stored;
  }

  /** The first kept event numbered above `seq`, if there is one. */
  next(seq: number): StoredEvent | undefined {
    for (let i = Math.max(this.head, this.indexAfter(seq)); i < this.events.length; i++) {
      const event = this.events[i];
      if (event !== undefined) return event;
    }
    return undefined;
  }

  /** The first slot whose number is above `seq` (binary search). */
  private indexAfter(seq: number): number {
    let low = 0;
    let high = this.seqs.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.seqs[mid] ?? 0) <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private drop(index: number): void {
    while (index === this.head && this.events[index] === undefined && index < this.events.length) {
      index = ++this.head;
    }
    const event = this.events[index];
    if (event === undefined) return;
    this.events[index] = undefined;
    this.kept--;
    const key = event.event.key;
    if (key !== undefined && this.newestOfKey.get(key) === event.seq) this.newestOfKey.delete(key);
    if (index === this.head) this.head++;
  }

  private compact(): void {
    const events: StoredEvent[] = [];
    for (const event of this.events) if (event !== undefined) events.push(event);
    this.events = events;
    this.seqs = events.map((event) => event.seq);
    this.head = 0;
  }
}
