import { InvalidArgumentError, type SerializedError } from "../errors.ts";
import { assertSendable } from "../internal/sendable.ts";
import type { StreamingResultOptions } from "./call-context.ts";
import {
  encodeImages,
  type ImageEncoding,
  isUnencodedImage,
  previewEncoding,
} from "./encode-images.ts";
import { ResultBatcher, type ResultBatcherOptions } from "./result-batcher.ts";
import { Throttle, type ThrottleClock } from "./throttle.ts";

const resolved = Promise.resolve();

export interface ResultSinkOptions extends ResultBatcherOptions {
  /** The clock of `throttle`'s intervals. @default the real one */
  readonly throttleClock?: ThrottleClock;
  /** Encodes a result's raw images before it is queued. @default encodeImages (sharp) */
  readonly encodeImages?: (value: unknown, encoding: ImageEncoding) => Promise<unknown>;
}

/** A result held back by `throttle` or `every`, already checked. */
interface ThrottledResult {
  readonly value: unknown;
  readonly options: StreamingResultOptions | undefined;
  /** It holds images to encode. */
  readonly images: boolean;
}

/**
 * A rank's outbox for the streamed results and errors of the running request. It decides what
 * is admitted and in what order: a result is checked where the worker added it (a bad one throws
 * there), `throttle` and `every` hold results back, results with raw images are encoded in
 * parallel but queued in the order they were added (later results and errors wait behind them),
 * and `latestWins` lets a newer result replace an unsent one. What it admits, its
 * {@link ResultBatcher} batches into frames and writes, under the runner's backpressure.
 */
export class ResultSink {
  private readonly batcher: ResultBatcher;
  private readonly throttleClock: ThrottleClock | undefined;
  private readonly encode: (value: unknown, encoding: ImageEncoding) => Promise<unknown>;

  /** Counts calls, so that work a finished call left running knows it is stale. */
  private call = 0;
  /** The call takes results: begun, and neither cancelled nor ended. */
  private open = false;
  /**
   * Settles when every result added so far with images to encode is in the batcher. While it is
   * pending, later results and errors queue behind it, so encoding never reorders the stream.
   */
  private ordered: Promise<void> | undefined;
  /** The first failure of a result added earlier (encoding it, say); fails the call. */
  private lateError: unknown;
  /** Results added with `throttle` or `every`, waiting for their turn. */
  private throttle: Throttle<ThrottledResult> | undefined;

  constructor(options: ResultSinkOptions) {
    this.batcher = new ResultBatcher(options);
    this.throttleClock = options.throttleClock;
    this.encode = options.encodeImages ?? encodeImages;
  }

  /** Starts taking the results of request `id`; whatever an earlier call left is dropped. */
  begin(id: number): void {
    this.end();
    this.call++;
    this.open = true;
    this.ordered = undefined;
    this.lateError = undefined;
    this.batcher.begin(id);
  }

  /**
   * Admits one result of the running call; resolves when the outbox has room again. Throws an
   * InvalidPayloadError for a value that cannot be sent, InvalidArgumentError for bad options and
   * StreamOverflowError past maxPendingBytes.
   */
  add(value: unknown, options: StreamingResultOptions | undefined): Promise<void> {
    if (!this.open) return resolved;
    // A plain result (most are) while the rank is idle: checked, encoded and written in one pass.
    if (
      this.ordered === undefined &&
      (options === undefined ||
        (options.latestWins === undefined &&
          options.throttle === undefined &&
          options.every === undefined)) &&
      this.batcher.sendNow(value, true)
    ) {
      return resolved;
    }
    // Checked now, so a bad result throws where the worker added it. The walk stops at the first
    // image to encode; the rest is checked once the images are encoded.
    const images = assertSendable(value, "result", isUnencodedImage);
    const interval = options?.throttle;
    const every = options?.every;
    if (interval === undefined && every === undefined) return this.enqueue(value, options, images);
    if (interval !== undefined && !(typeof interval === "number" && interval >= 0)) {
      throw new InvalidArgumentError(
        `Expected \`throttle\` to be a non-negative number of ms, got ${String(interval)}`,
      );
    }
    if (every !== undefined && !(Number.isSafeInteger(every) && every >= 1)) {
      throw new InvalidArgumentError(
        `Expected \`every\` to be a positive integer, got ${String(every)}`,
      );
    }
    if (interval !== undefined && every !== undefined) {
      throw new InvalidArgumentError("Give `throttle` or `every`, not both");
    }
    if (this.throttle === undefined) {
      const call = this.call;
      this.throttle = new Throttle(({ value: held, options: rest, images: encode }) => {
        // A throttled result goes out later; a failure then fails the call.
        this.enqueue(held, rest, encode).catch((error: unknown) => {
          if (this.call === call) this.lateError ??= error;
        });
      }, this.throttleClock);
    }
    const key = options?.latestWins ?? "";
    const item = { value, options, images };
    if (every !== undefined) this.throttle.addEvery(key, every, item);
    else this.throttle.add(key, interval as number, item);
    return resolved;
  }

  /** Queues a non-fatal error for the consumer, behind every result added before it. */
  addError(error: SerializedError): void {
    if (!this.open) return;
    if (this.ordered === undefined) {
      this.batcher.addError(error);
      return;
    }
    const call = this.call;
    this.setOrdered(
      this.ordered.then(() => {
        if (this.isOpen(call)) this.batcher.addError(error);
      }),
    );
  }

  /**
   * The call returned: sends the newest throttled results, waits for every result queued behind
   * an encode, and resolves once all of them are handed to the channel. Rejects with the first
   * failure of a result added earlier.
   */
  async finish(): Promise<void> {
    this.throttle?.flush();
    while (this.ordered !== undefined) await this.ordered;
    if (this.lateError !== undefined) throw this.lateError;
    await this.batcher.drained();
  }

  /** Resolves once every result admitted so far has been handed to the channel. */
  drained(): Promise<void> {
    return this.batcher.drained();
  }

  /** The call was cancelled: drops what is held back or queued and takes nothing more. */
  cancel(): void {
    this.end();
    this.batcher.discard();
  }

  /** The call is over: results it still adds, or that finish encoding now, are dropped. */
  end(): void {
    this.open = false;
    this.throttle?.clear();
    this.throttle = undefined;
  }

  private isOpen(call: number): boolean {
    return this.open && this.call === call;
  }

  private enqueue(
    value: unknown,
    options: StreamingResultOptions | undefined,
    images: boolean,
  ): Promise<void> {
    const key = options?.latestWins ?? null;
    if (this.ordered === undefined && !images) return this.batcher.addValue(value, key);
    // Images to encode: start now (in parallel with earlier ones), queue in order.
    const call = this.call;
    const encoding = images ? this.encode(value, previewEncoding(options?.imageFormat)) : value;
    const added = Promise.all([encoding, this.ordered ?? resolved]).then(([encoded]) => {
      if (!this.isOpen(call)) return;
      if (images) assertSendable(encoded, "result");
      return this.batcher.addValue(encoded, key);
    });
    this.setOrdered(
      added.then(
        () => undefined,
        (error: unknown) => {
          if (this.call === call) this.lateError ??= error;
        },
      ),
    );
    // A worker that does not await it still fails its call with the error; no unhandled rejection.
    added.catch(() => {});
    return added;
  }

  /** Makes `tail` the end of the ordered queue; the fast path returns once it settled. */
  private setOrdered(tail: Promise<void>): void {
    this.ordered = tail;
    void tail.then(() => {
      if (this.ordered === tail) this.ordered = undefined;
    });
  }
}
