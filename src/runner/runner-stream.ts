import type { ImageFormat } from "../encoding/image.ts";
import {
  deserializeError,
  InvalidArgumentError,
  type SerializedError,
  StreamedError,
} from "../errors.ts";
import type { EncodeContext } from "../events/event-data.ts";
import { encodeFalEvent } from "../events/fal-dialect.ts";
import type { RequestEvent } from "../events/request-event.ts";
import { deferred, quiet } from "../internal/deferred.ts";
import { hasMarker } from "../internal/marker.ts";
import { decodeValue } from "../ipc/index.ts";
import type { RunnerRequest } from "./runner-request.ts";

/** Options of `runner.stream()`. */
export interface StreamOptions {
  /** Fail with REQUEST_TIMEOUT (and cancel on every rank) after this many ms, queue wait included. */
  readonly timeout?: number;
  /** Fail with STREAM_IDLE when the ranks stream nothing for this many ms while running. */
  readonly streamingTimeout?: number;
  /**
   * Yield bytes ready for an HTTP response instead of objects: each event exactly
   * `data: <json>\n\n`, the final result last (fal's dialect, written by its encoder); a failure
   * is one `event: error` event. Served by troupe/app, the stream is read as typed events and
   * written in the dialect the client asked for.
   * @default false
   */
  readonly asTextEvents?: boolean;
  /** Cancels the request on every rank when aborted. */
  readonly signal?: AbortSignal;
  /** The id the worker sees as `ctx.requestId`. @default a random UUID */
  readonly requestId?: string;
  /** Encoding of the images in the final result. @default "jpeg" (quality 95) */
  readonly imageFormat?: ImageFormat;
}

/** A streamed request's events, in order, as `stream(...).events()` yields them. */
export type RunnerEvent<Result = unknown, Output = unknown> = Exclude<
  RequestEvent<Result, Output, Error>,
  { readonly type: "heartbeat" }
>;

/** A result of rank `rank`, as yielded when the runner forwards every rank's results. */
export interface RankResult<Result = unknown> {
  readonly rank: number;
  readonly result: Result;
}

/** What a {@link RunnerStream} needs from its runner. */
export interface RequestSource {
  submit(): RunnerRequest;
  abort(request: RunnerRequest, reason: Error): void;
}

type Mode = "values" | "text";

const RUNNER_STREAM_MARKER: unique symbol = Symbol.for("troupe.RunnerStream");

/**
 * The stream of one request. Iterate it for the results (objects, or SSE bytes with
 * `asTextEvents`), the final result last; or call `events()` for typed events; or `done()` for
 * just the final result. The request is submitted on first use and cancelled on every rank when
 * the consumer leaves early (`break`, `return()`, `cancel()`, or the signal).
 *
 * @example
 * ```ts
 * const s = runner.stream({ prompt: "A sunset" });
 * for await (const event of s) console.log(event); // intermediate results, then the final one
 * const final = await s.done(); // the final result on its own
 * ```
 */
export class RunnerStream<Result = unknown, Output = unknown, Item = Result | Output>
  implements AsyncIterable<Item>, EncodeContext
{
  /** `true` for a stream made by any copy of troupe (where `instanceof` would say no). */
  static isInstance(value: unknown): value is RunnerStream {
    return hasMarker(value, RUNNER_STREAM_MARKER);
  }

  readonly [RUNNER_STREAM_MARKER] = true;
  private request: RunnerRequest | undefined;
  private consuming = false;
  private ended = false;
  private readonly final = deferred<Output>();

  /** @internal */
  constructor(
    private readonly source: RequestSource,
    private readonly mode: Mode,
    private readonly streamAllRanks: boolean,
    /** The id the worker sees as `ctx.requestId`. */
    readonly requestId: string,
  ) {
    quiet(this.final.promise);
  }

  /** `true` when results arrive as `{ rank, result }` (the runner forwards every rank's). */
  get forwardsAllRanks(): boolean {
    return this.streamAllRanks;
  }

  /** `true` when iterating yields SSE bytes (`asTextEvents`), `false` when it yields objects. */
  get asTextEvents(): boolean {
    return this.mode === "text";
  }

  /**
   * The final result (rank 0's return value), as soon as it is known; rejects with the error that
   * failed the request. Called before any other use, it consumes the stream itself (dropping the
   * intermediate results) so the request runs.
   */
  done(): Promise<Output> {
    if (!this.consuming) {
      this.claim("done()");
      void this.drain();
    }
    return this.final.promise;
  }

  /** Cancels the request on every rank; the stream and `done()` reject with `reason`. */
  cancel(reason: Error = new DOMException("The stream was cancelled", "AbortError")): void {
    if (this.ended) return;
    const request = this.start();
    this.source.abort(request, reason);
  }

  [Symbol.asyncIterator](): AsyncIterator<Item> {
    this.claim("iteration");
    return {
      next: () =>
        (this.mode === "text" ? this.nextText() : this.nextValue()) as Promise<
          IteratorResult<Item>
        >,
      return: async () => {
        this.leave();
        return { done: true, value: undefined };
      },
    };
  }

  /** The request's typed events: queue position, start, each result, and how it ended. */
  events(): AsyncIterable<RunnerEvent<Result, Output>> {
    this.claim("events()");
    return {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<RunnerEvent<Result, Output>>> => {
          const event = await this.nextEvent();
          return event === undefined
            ? { done: true, value: undefined }
            : { done: false, value: event };
        },
        return: async () => {
          this.leave();
          return { done: true, value: undefined };
        },
      }),
    };
  }

  /** The stream as a web ReadableStream (for an HTTP response body); cancelling it cancels the request. */
  toReadableStream(): ReadableStream<Item> {
    const iterator = this[Symbol.asyncIterator]();
    return new ReadableStream<Item>(
      {
        pull: async (controller) => {
          const { done, value } = await iterator.next();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: async () => {
          await iterator.return?.();
        },
      },
      { highWaterMark: 0 },
    );
  }

  private claim(what: string): void {
    if (this.consuming) {
      throw new InvalidArgumentError(
        `This stream is already being consumed; ${what} needs a stream of its own (call runner.stream() again)`,
      );
    }
    this.consuming = true;
  }

  private start(): RunnerRequest {
    if (this.request === undefined) {
      const request = this.source.submit();
      this.request = request;
      void request.buffer.settled.then((outcome) => {
        if (outcome.ok) this.final.resolve(this.output(outcome.output));
        else this.final.reject(outcome.error);
      });
    }
    return this.request;
  }

  private decodedOutput: { readonly value: Output } | undefined;

  /** Rank 0's output, decoded once for both `done()` and the final event. */
  private output(bytes: Uint8Array): Output {
    this.decodedOutput ??= { value: decodeValue(bytes) as Output };
    return this.decodedOutput.value;
  }

  private leave(): void {
    if (this.ended) return;
    this.cancel(new DOMException("The consumer stopped reading the stream", "AbortError"));
    this.ended = true;
  }

  private async drain(): Promise<void> {
    while ((await this.nextEvent()) !== undefined) {}
  }

  private async nextEvent(): Promise<RunnerEvent<Result, Output> | undefined> {
    for (;;) {
      const event = this.takeEvent();
      if (event !== null) return event;
      await this.start().buffer.wait();
    }
  }

  /**
   * The next event if one is there to read: a buffered one, or how the request ended once every
   * buffered one was read. `null` when none is there yet, `undefined` once the stream has ended.
   */
  private takeEvent(): RunnerEvent<Result, Output> | null | undefined {
    if (this.ended) return undefined;
    const buffer = this.start().buffer;
    const item = buffer.take();
    if (item !== undefined) {
      switch (item.kind) {
        case "result":
          return {
            type: "result",
            rank: item.rank,
            data: decodeValue(item.bytes) as Result,
            ...(item.key === null ? {} : { key: item.key }),
          };
        case "streamError":
          return { type: "error", error: streamedError(item.error), fatal: false };
        case "queued":
          return { type: "queued", position: item.position };
        case "started":
          return { type: "started" };
      }
    }
    const outcome = buffer.outcome;
    if (outcome === undefined) return null;
    this.ended = true;
    if (outcome.ok) return { type: "done", data: this.output(outcome.output) };
    return { type: "error", error: outcome.error, fatal: true };
  }

  /** A result as the consumer gets it: tagged with its rank when every rank's results are forwarded. */
  private resultValue(event: { readonly rank: number; readonly data: Result }): unknown {
    return this.streamAllRanks ? { rank: event.rank, result: event.data } : event.data;
  }

  private async nextValue(): Promise<IteratorResult<unknown>> {
    for (;;) {
      const event = await this.nextEvent();
      if (event === undefined) return { done: true, value: undefined };
      switch (event.type) {
        case "result":
          return { done: false, value: this.resultValue(event) };
        case "done":
          return { done: false, value: event.data };
        case "error":
          if (event.fatal) throw event.error;
          return { done: false, value: event.error };
        default:
          continue;
      }
    }
  }

  private async nextText(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const event = await this.nextEvent();
      if (event === undefined) return { done: true, value: undefined };
      const bytes = encodeFalEvent(event, this);
      if (bytes !== undefined) return { done: false, value: bytes };
    }
  }
}

function streamedError(serialized: SerializedError): StreamedError {
  const cause = deserializeError(serialized);
  return new StreamedError(
    serialized.rank === undefined
      ? serialized.message
      : `Rank ${serialized.rank}: ${serialized.message}`,
    { ...(serialized.rank === undefined ? {} : { rank: serialized.rank }), cause },
  );
}
