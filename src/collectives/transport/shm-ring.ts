import type { NativeAddon } from "../native-addon.ts";

/**
 * Slots of a ring, and bytes per slot. Several slots let the copy in and the copy out overlap;
 * 2 MiB pieces measured fastest on a 2-core host (they stay in cache between the two copies).
 */
export const SHM_SLOTS = 4;
export const SHM_SLOT_BYTES = 2 << 20;

interface Waiter {
  resolve(slot: number): void;
  reject(error: Error): void;
}

/**
 * The sending side of a shared-memory channel to one local peer: a POSIX shared-memory segment
 * cut into slots. The sender copies a piece into a free slot and tells the receiver over the
 * socket; the receiver copies or reduces it out and hands the slot back with a credit frame.
 */
export class ShmRing {
  readonly bytes: Uint8Array;
  readonly #free: number[] = [];
  readonly #waiters: Waiter[] = [];
  /** The receiver handed a slot back, so it mapped the segment (and unlinked its name). */
  #mapped = false;

  constructor(
    readonly name: string,
    addon: NativeAddon,
  ) {
    this.bytes = new Uint8Array(addon.shmCreate(name, SHM_SLOTS * SHM_SLOT_BYTES));
    for (let slot = SHM_SLOTS - 1; slot >= 0; slot--) this.#free.push(slot);
  }

  /** A free slot now, or a promise of the next one handed back. */
  acquire(): number | Promise<number> {
    const slot = this.#free.pop();
    if (slot !== undefined) return slot;
    return new Promise<number>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Withdraws a waiter that gave up (its operation failed). */
  cancel(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  release(slot: number): void {
    this.#mapped = true;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(slot);
    else this.#free.push(slot);
  }

  /**
   * Whether this side may unlink the segment's name on leaving: the receiver already mapped it,
   * or nothing it has not read is in it. Otherwise the receiver still needs the name to read
   * what was sent before this rank left, and unlinks it once mapped.
   */
  get safeToUnlink(): boolean {
    return this.#mapped || this.#free.length === SHM_SLOTS;
  }

  slot(slot: number): Uint8Array {
    return this.bytes.subarray(slot * SHM_SLOT_BYTES, (slot + 1) * SHM_SLOT_BYTES);
  }
}
