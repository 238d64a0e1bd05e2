import { writeSync } from "node:fs";
import type { Writable } from "node:stream";
import type { SerializedError } from "../errors.ts";
import { StreamOverflowError } from "../errors.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";
import {
  encodeFrame,
  encodeResultFrame,
  encodeResultsFrame,
  encodeValue,
  RESULT_FRAME_OVERHEAD,
} from "../ipc/codec.ts";
import { encodePlainResultFrame } from "../ipc/plain-frame.ts";

/** Most results per frame, and most bytes: bounds the work the runner does per frame. */
const MAX_BATCH_ITEMS = 4096;
const MAX_BATCH_BYTES = 1024 * 1024;
/** A result waits in a batch at most this long while the worker keeps the event loop busy. */
const MAX_BATCH_DELAY_MS = 1;

const resolved = Promise.resolve();
/** Marks the place of a streamed error in the queue, so it keeps its order among the results. */
const ERROR_SLOT = new Uint8Array(0);

export interface ResultSinkOptions {
  readonly channel: Writable;
  readonly rank: number;
  readonly highWaterMark: number;
  readonly maxPendingBytes: number;
  /**
   * The channel's file descriptor. When given, a result sent at once while the channel has
   * nothing queued goes to it in one `write(2)`, past the stream's machinery (whatever the kernel
   * does not take then goes through the stream, after it).
   */
  readonly fd?: number;
  readonly now?: () => number;
}

/**
 * A rank's outbox for streamed results of the running request. Results are batched into frames
 * (one write for many results added back-to-back), sent at once when the rank has been idle, and
 * held — never dropped — while the runner applies backpressure (the channel needs draining).
 */
export class ResultSink {
  private readonly channel: Writable;
  private readonly rank: number;
  private readonly highWaterMark: number;
  private readonly maxPendingBytes: number;
  private readonly fd: number | undefined;
  private readonly now: () => number;

  private requestId = 0;
  private items: (Uint8Array | null)[] = [];
  /** Streamed errors, by their place in `items` (which holds ERROR_SLOT there). */
  private errors = new Map<number, SerializedError>();
  private keys: (string | null)[] = [];
  private keyIndex = new Map<string, number>();
  private head = 0;
  private live = 0;
  private bytes = 0;
  private scheduled = false;
  private waitingForDrain = false;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private roomWaiter: Deferred<void> | undefined;
  private emptyWaiter: Deferred<void> | undefined;

  constructor(options: ResultSinkOptions) {
    this.channel = options.channel;
    this.rank = options.rank;
    this.highWaterMark = options.highWaterMark;
    this.maxPendingBytes = options.maxPendingBytes;
    this.fd = options.fd;
    this.now = options.now ?? performance.now.bind(performance);
  }

  /** Starts collecting results for request `id`. */
  begin(id: number): void {
    this.discard();
    this.requestId = id;
  }

  /**
   * Sends or queues one result, as {@link add} does. When the outbox is empty and the rank has
   * been idle, the result is encoded straight into a frame of its own and written at once: the
   * path of a result that a consumer waits for, so it does no more than it must.
   */
  addValue(value: unknown, key: string | null): Promise<void> {
    const now = key === null ? this.idleNow() : undefined;
    if (now !== undefined) {
      const frame = encodeResultFrame(this.requestId, value);
      this.assertRoom(frame.byteLength - RESULT_FRAME_OVERHEAD, 0);
      this.writeNow(frame, false);
      this.lastWriteAt = now;
      return resolved;
    }
    return this.add(encodeValue(value), key);
  }

  /**
   * Sends `value` at once, in one pass from value to written frame, when the outbox is empty, the
   * rank has been idle and `value` is plain data (see {@link encodePlainResultFrame}); returns
   * `false`, having done nothing, otherwise. The rank's path for a result a consumer waits for.
   */
  sendPlainNow(value: unknown): boolean {
    const now = this.idleNow();
    if (now === undefined) return false;
    const frame = encodePlainResultFrame(this.requestId, value);
    if (frame === undefined) return false;
    this.assertRoom(frame.byteLength - RESULT_FRAME_OVERHEAD, 0);
    this.writeNow(frame, true);
    this.lastWriteAt = now;
    return true;
  }

  /**
   * The time, when nothing is queued, the channel takes writes and the last write was over
   * MAX_BATCH_DELAY_MS ago; `undefined` otherwise. The clock is read only once the rest holds: a
   * burst of results, which queue, reads it once per result (in {@link add}), not three times.
   */
  private idleNow(): number | undefined {
    if (this.live > 0 || this.channel.writableNeedDrain) return undefined;
    const now = this.now();
    return now - this.lastWriteAt > MAX_BATCH_DELAY_MS ? now : undefined;
  }

  /** Queues one encoded result; resolves when the outbox is below its high-water mark. */
  add(encoded: Uint8Array, key: string | null): Promise<void> {
    const previous = key === null ? undefined : this.keyIndex.get(key);
    this.assertRoom(
      encoded.byteLength,
      previous === undefined ? 0 : (this.items[previous]?.byteLength ?? 0),
    );
    if (key !== null) {
      if (previous !== undefined) this.remove(previous);
      this.keyIndex.set(key, this.items.length);
    }
    this.items.push(encoded);
    this.keys.push(key);
    this.live++;
    this.bytes += encoded.byteLength;

    const now = this.now();
    if (
      now - this.lastWriteAt > MAX_BATCH_DELAY_MS ||
      this.items.length - this.head >= MAX_BATCH_ITEMS
    ) {
      // The rank was idle (or the batch is full): send now, even if the worker's code is
      // synchronous and will not yield to the event loop for a while.
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushScheduled);
    }
    if (this.live < this.highWaterMark) return resolved;
    this.roomWaiter ??= deferred<void>();
    return this.roomWaiter.promise;
  }

  /** Queues a non-fatal error for the consumer, behind every result added before it. */
  addError(error: SerializedError): void {
    this.errors.set(this.items.length, error);
    this.items.push(ERROR_SLOT);
    this.keys.push(null);
    this.live++;
    this.flush();
  }

  /** Resolves once every queued result has been handed to the channel. */
  drained(): Promise<void> {
    this.flush();
    if (this.live === 0) return resolved;
    this.emptyWaiter ??= deferred<void>();
    return this.emptyWaiter.promise;
  }

  /** Drops every queued result (the request was cancelled; the runner discards them anyway). */
  discard(): void {
    this.items = [];
    this.errors.clear();
    this.keys = [];
    this.keyIndex.clear();
    this.head = 0;
    this.live = 0;
    this.bytes = 0;
    this.wake();
  }

  /**
   * Writes `frame` straight to the descriptor if nothing is queued before it, else to the stream
   * (a copy of what is left, if the frame's memory is `scratch` that will be reused).
   */
  private writeNow(frame: Uint8Array, scratch: boolean): void {
    let rest = frame;
    if (this.fd !== undefined && this.channel.writableLength === 0) {
      try {
        rest = frame.subarray(writeSync(this.fd, frame));
      } catch {
        // EAGAIN (the kernel's buffer is full) or a closed channel: the stream handles both.
      }
    }
    if (rest.byteLength > 0) this.channel.write(scratch ? rest.slice() : rest);
  }

  /** Throws unless `bytes` more (replacing `replaced`) stay within maxPendingBytes. */
  private assertRoom(bytes: number, replaced: number): void {
    if (this.bytes - replaced + bytes <= this.maxPendingBytes) return;
    throw new StreamOverflowError(
      `Rank ${this.rank} holds ${this.bytes} bytes of results its consumer has not read; adding ${bytes} more would pass maxPendingBytes (${this.maxPendingBytes}). Await addStreamingResult() to wait for room, or use latestWins for previews.`,
      {
        rank: this.rank,
        details: { pendingBytes: this.bytes, maxPendingBytes: this.maxPendingBytes },
      },
    );
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private flush(): void {
    while (this.live > 0) {
      if (this.channel.writableNeedDrain) {
        if (!this.waitingForDrain) {
          this.waitingForDrain = true;
          this.channel.once("drain", () => {
            this.waitingForDrain = false;
            this.flush();
          });
        }
        return;
      }
      this.writeBatch();
    }
  }

  private writeBatch(): void {
    const batch: Uint8Array[] = [];
    const keys: (string | null)[] = [];
    let hasKeys = false;
    let batchBytes = 0;
    while (
      this.head < this.items.length &&
      batch.length < MAX_BATCH_ITEMS &&
      (batchBytes < MAX_BATCH_BYTES || batch.length === 0)
    ) {
      const item = this.items[this.head];
      // A streamed error goes out in a frame of its own, after the results before it.
      if (item === ERROR_SLOT && batch.length > 0) break;
      const key = this.keys[this.head] ?? null;
      this.head++;
      if (item === ERROR_SLOT) {
        const error = this.errors.get(this.head - 1) as SerializedError;
        this.errors.delete(this.head - 1);
        this.live--;
        this.channel.write(encodeFrame({ t: "streamError", id: this.requestId, error }));
        this.lastWriteAt = this.now();
        break;
      }
      if (item === null || item === undefined) continue;
      if (key !== null) {
        hasKeys = true;
        this.keyIndex.delete(key);
      }
      batch.push(item);
      keys.push(key);
      batchBytes += item.byteLength;
    }
    this.live -= batch.length;
    this.bytes -= batchBytes;
    if (this.head === this.items.length) {
      this.items = [];
      this.keys = [];
      this.errors.clear();
      this.head = 0;
    }
    if (batch.length > 0) {
      this.channel.write(encodeResultsFrame(this.requestId, batch, hasKeys ? keys : undefined));
      this.lastWriteAt = this.now();
    }
    this.wake();
  }

  private remove(index: number): void {
    const item = this.items[index];
    if (item === null || item === undefined) return;
    this.items[index] = null;
    this.live--;
    this.bytes -= item.byteLength;
  }

  private wake(): void {
    if (this.roomWaiter !== undefined && this.live < Math.max(1, this.highWaterMark >> 1)) {
      this.roomWaiter.resolve();
      this.roomWaiter = undefined;
    }
    if (this.emptyWaiter !== undefined && this.live === 0) {
      this.emptyWaiter.resolve();
      this.emptyWaiter = undefined;
    }
  }
}
