import { type Deferred, deferred } from "../internal/deferred.ts";
import type { Lease, StoredEventBody } from "../queue/queue-store.ts";

/** Appends not yet recorded by the store above which reading the request's events waits. */
const APPEND_WINDOW = 512;

/**
 * Appends in flight, in order: the store pipelines them (one Redis round trip does not hold the
 * next event back), and reading the request's stream waits once `size` are unrecorded,
 * so a slow store holds the ranks back instead of filling memory. The first failed append (a
 * lost lease) fails every later wait. Counted, not kept: while there is room, an event costs no
 * promise here beyond its append's own.
 */
export class AppendWindow {
  private inFlight = 0;
  /** Resolved once fewer than the window's size are in flight. */
  private space: Deferred<void> | undefined;
  /** Resolved once none is. */
  private idle: Deferred<void> | undefined;
  private failure: { readonly error: unknown } | undefined;
  private readonly settled = (): void => {
    this.inFlight--;
    if (this.space !== undefined && this.inFlight < this.size) {
      this.space.resolve();
      this.space = undefined;
    }
    if (this.idle !== undefined && this.inFlight === 0) {
      this.idle.resolve();
      this.idle = undefined;
    }
  };
  private readonly failed = (error: unknown): void => {
    this.failure ??= { error };
    this.settled();
  };

  constructor(
    private readonly lease: Pick<Lease, "append">,
    private readonly size = APPEND_WINDOW,
  ) {}

  push(event: StoredEventBody): void {
    this.inFlight++;
    this.lease.append(event).then(this.settled, this.failed);
  }

  /**
   * `undefined` while fewer than the window's size are in flight (no promise for the caller to
   * await), else a promise that resolves once they are; either way the first failure throws.
   */
  room(): Promise<void> | undefined {
    this.throwIfFailed();
    if (this.inFlight < this.size) return undefined;
    this.space ??= deferred();
    return this.space.promise.then(() => this.throwIfFailed());
  }

  /** Resolves once every append is recorded; rejects with the first that failed. */
  async drained(): Promise<void> {
    if (this.inFlight > 0) {
      this.idle ??= deferred();
      await this.idle.promise;
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
