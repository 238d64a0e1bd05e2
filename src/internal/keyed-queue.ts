/**
 * A first-in, first-out queue in which an item pushed with a latest-wins key replaces the unread
 * item with the same key: that one leaves a hole (a tombstone) where it was, and the newer one
 * goes to the back. Push and shift are O(1) with no allocation beyond the arrays' growth; the
 * array is reset when the queue empties and compacted when a long-lived one is mostly holes.
 * The rank's outbox and the runner's per-request buffer both queue through it.
 */
export class KeyedQueue<T> {
  private items: (T | undefined)[] = [];
  private keys: (string | null)[] = [];
  private readonly keyIndex = new Map<string, number>();
  private head = 0;
  private live = 0;
  /** The key of the item {@link shift} returned last (`null` for none). */
  shiftedKey: string | null = null;

  /** Items queued and not yet shifted, holes not counted. */
  get size(): number {
    return this.live;
  }

  /** The unread item queued with `key`, if there is one. */
  get(key: string): T | undefined {
    const index = this.keyIndex.get(key);
    return index === undefined ? undefined : this.items[index];
  }

  /** Queues `item` at the back; with a `key`, drops the unread item of that key and returns it. */
  push(item: T, key: string | null): T | undefined {
    let replaced: T | undefined;
    if (key !== null) {
      const previous = this.keyIndex.get(key);
      if (previous !== undefined) {
        replaced = this.items[previous];
        if (replaced !== undefined) {
          this.items[previous] = undefined;
          this.live--;
        }
      }
      this.keyIndex.set(key, this.items.length);
    }
    this.items.push(item);
    this.keys.push(key);
    this.live++;
    return replaced;
  }

  /** The item {@link shift} would return, left in place. */
  peek(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      if (item !== undefined) return item;
      this.head++;
    }
    return undefined;
  }

  /** Takes the oldest unread item (its key is then {@link shiftedKey}), or `undefined` if none. */
  shift(): T | undefined {
    while (this.head < this.items.length) {
      const index = this.head++;
      const item = this.items[index];
      if (item === undefined) continue;
      const key = this.keys[index] ?? null;
      this.items[index] = undefined;
      this.live--;
      if (key !== null && this.keyIndex.get(key) === index) this.keyIndex.delete(key);
      this.shiftedKey = key;
      if (this.head === this.items.length) this.reset();
      else if (this.head > 4096 && this.head * 2 > this.items.length) this.compact();
      return item;
    }
    return undefined;
  }

  /** Drops every item. */
  clear(): void {
    this.reset();
    this.live = 0;
    this.keyIndex.clear();
  }

  private reset(): void {
    this.items = [];
    this.keys = [];
    this.head = 0;
  }

  private compact(): void {
    this.items = this.items.slice(this.head);
    this.keys = this.keys.slice(this.head);
    this.head = 0;
    this.keyIndex.clear();
    for (let i = 0; i < this.items.length; i++) {
      const key = this.keys[i] ?? null;
      if (key !== null && this.items[i] !== undefined) this.keyIndex.set(key, i);
    }
  }
}
