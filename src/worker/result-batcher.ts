import { writeSync } from "node:fs";
import type { Writable } from "node:stream";
import type { SerializedError } from "../errors.ts";
import { StreamOverflowError } from "../errors.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";
import { KeyedQueue } from "../internal/keyed-queue.ts";
import { encodeFrame } from "../ipc/control-frame.ts";
import {
  encodeResultFrame,
  encodeResultsFrame,
  RESULT_FRAME_OVERHEAD,
} from "../ipc/results-frame.ts";
import { encodeValue } from "../ipc/value-codec.ts";

/** Most results per frame, and most bytes: bounds the work the runner does per frame. */
const MAX_BATCH_ITEMS = 4096;
const MAX_BATCH_BYTES = 1024 * 1024;
/** A result waits in a batch at most this long while the worker keeps the event loop busy. */
const MAX_BATCH_DELAY_MS = 1;

const resolved = Promise.resolve();

/** A streamed error in the queue, where it keeps its order among the results. */
interface ErrorSlot {
  readonly error: SerializedError;
}

/** What the queue holds: a result's encoded bytes, or a streamed error. */
type Queued = Uint8Array | ErrorSlot;

export interface ResultBatcherOptions {
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
 * The writing half of a rank's outbox: encoded results of the running request, batched into
 * results frames (one write for many results added back-to-back), sent at once when the rank has
 * been idle, and held (never dropped) while the runner applies backpressure (the channel needs
 * draining). What may be added, and in what order, is the outbox's business (`ResultSink`).
 */
export class ResultBatcher {
  private readonly channel: Writable;
  private readonly rank: number;
  private readonly highWaterMark: number;
  private readonly maxPendingBytes: number;
  private readonly fd: number | undefined;
  private readonly now: () => number;

  private requestId = 0;
  private readonly queue = new KeyedQueue<Queued>();
  /** Encoded bytes of the queued results. */
  private bytes = 0;
  private scheduled = false;
  private waitingForDrain = false;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private roomWaiter: Deferred<void> | undefined;
  private emptyWaiter: Deferred<void> | undefined;

  constructor(options: ResultBatcherOptions) {
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
   * Sends or queues one result, already checked as sendable, as {@link add} does: one without a
   * key goes out at once, in a frame of its own, when {@link sendNow} can send it.
   */
  addValue(value: unknown, key: string | null): Promise<void> {
    if (key === null && this.sendNow(value, false)) return resolved;
    return this.add(encodeValue(value), key);
  }

  /**
   * Sends `value` at once, encoded straight into a frame of its own and written, when nothing is
   * queued and the rank has been idle; returns `false`, having done nothing, otherwise, or with
   * `plainOnly` when `value` is not plain data (which needs no check: it is sendable). The path of
   * a result that a consumer waits for, so it does no more than it must.
   */
  sendNow(value: unknown, plainOnly: boolean): boolean {
    const now = this.idleNow();
    if (now === undefined) return false;
    const frame = encodeResultFrame(this.requestId, value, plainOnly);
    if (frame === undefined) return false;
    this.assertRoom(frame.byteLength - RESULT_FRAME_OVERHEAD, 0);
    this.writeNow(frame);
    this.lastWriteAt = now;
    return true;
  }

  /**
   * The time, when nothing is queued, the channel takes writes and the last write was over
   * MAX_BATCH_DELAY_MS ago; `undefined` otherwise. The clock is read only once the rest holds: a
   * burst of results, which queue, reads it once per result (in {@link add}), not three times.
   */
  private idleNow(): number | undefined {
    if (this.queue.size > 0 || this.channel.writableNeedDrain) return undefined;
    const now = this.now();
    return now - this.lastWriteAt > MAX_BATCH_DELAY_MS ? now : undefined;
  }

  /** Queues one encoded result; resolves when the outbox is below its high-water mark. */
  add(encoded: Uint8Array, key: string | null): Promise<void> {
    const previous = key === null ? undefined : this.queue.get(key);
    const replacedBytes = previous instanceof Uint8Array ? previous.byteLength : 0;
    this.assertRoom(encoded.byteLength, replacedBytes);
    this.queue.push(encoded, key);
    this.bytes += encoded.byteLength - replacedBytes;

    const now = this.now();
    if (now - this.lastWriteAt > MAX_BATCH_DELAY_MS || this.queue.size >= MAX_BATCH_ITEMS) {
      // The rank was idle (or the batch is full): send now, even if the worker's code is
      // synchronous and will not yield to the event loop for a while.
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushScheduled);
    }
    if (this.queue.size < this.highWaterMark) return resolved;
    this.roomWaiter ??= deferred<void>();
    return this.roomWaiter.promise;
  }

  /** Queues a non-fatal error for the consumer, behind every result added before it. */
  addError(error: SerializedError): void {
    this.queue.push({ error }, null);
    this.flush();
  }

  /** Resolves once every queued result has been handed to the channel. */
  drained(): Promise<void> {
    this.flush();
    if (this.queue.size === 0) return resolved;
    this.emptyWaiter ??= deferred<void>();
    return this.emptyWaiter.promise;
  }

  /** Drops every queued result (the request was cancelled; the runner discards them anyway). */
  discard(): void {
    this.queue.clear();
    this.bytes = 0;
    this.wake();
  }

  /**
   * Writes `frame` straight to the descriptor if nothing is queued before it, else to the stream:
   * a copy of what is left, since the frame's memory may be a scratch buffer that will be reused.
   */
  private writeNow(frame: Uint8Array): void {
    let rest = frame;
    if (this.fd !== undefined && this.channel.writableLength === 0) {
      try {
        rest = frame.subarray(writeSync(this.fd, frame));
      } catch {
        // EAGAIN (the kernel's buffer is full) or a closed channel: the stream handles both.
      }
    }
    if (rest.byteLength > 0) this.channel.write(rest.slice());
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
    while (this.queue.size > 0) {
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
    const queue = this.queue;
    const batch: Uint8Array[] = [];
    const keys: (string | null)[] = [];
    let hasKeys = false;
    let batchBytes = 0;
    while (batch.length < MAX_BATCH_ITEMS && (batchBytes < MAX_BATCH_BYTES || batch.length === 0)) {
      const next = queue.peek();
      if (next === undefined) break;
      if (!(next instanceof Uint8Array)) {
        // A streamed error goes out in a frame of its own, after the results before it.
        if (batch.length > 0) break;
        queue.shift();
        this.channel.write(
          encodeFrame({ t: "streamError", id: this.requestId, error: next.error }),
        );
        this.lastWriteAt = this.now();
        break;
      }
      queue.shift();
      const key = queue.shiftedKey;
      if (key !== null) hasKeys = true;
      batch.push(next);
      keys.push(key);
      batchBytes += next.byteLength;
    }
    this.bytes -= batchBytes;
    if (batch.length > 0) {
      this.channel.write(encodeResultsFrame(this.requestId, batch, hasKeys ? keys : undefined));
      this.lastWriteAt = this.now();
    }
    this.wake();
  }

  private wake(): void {
    if (this.roomWaiter !== undefined && this.queue.size < Math.max(1, this.highWaterMark >> 1)) {
      this.roomWaiter.resolve();
      this.roomWaiter = undefined;
    }
    if (this.emptyWaiter !== undefined && this.queue.size === 0) {
      this.emptyWaiter.resolve();
      this.emptyWaiter = undefined;
    }
  }
}
