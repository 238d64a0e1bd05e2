import type { ImageFormat } from "../encoding/image.ts";
import { encodeValue } from "../ipc/index.ts";
import { EventBuffer } from "./event-buffer.ts";

export type RequestState = "queued" | "running" | "settling" | "finished";

/** The ranks whose results a running request reads: paused while its consumer is behind. */
export interface ResultProducers {
  pauseResults(): void;
  resumeResults(): void;
}

/** What a request is made of (all but `id` as the caller of `invoke()` or `stream()` gave it). */
export type RunnerRequestInit = Pick<
  RunnerRequest,
  "id" | "requestId" | "payload" | "streaming" | "imageFormat" | "streamingTimeout"
> & {
  /** Unread results above which the producers are paused. */
  readonly highWaterMark: number;
};

/**
 * One call's state inside the runner, from submission until every rank is done with it:
 * `queued` -> `running` (sent to every rank) -> `settling` (its outcome is known, cancelled on the
 * ranks that still run it) -> `finished` (no rank holds it). A running request has `begun` once a
 * rank may run its `call()`: on several ranks, when every rank acknowledged it and the runner sent
 * `go` (`release`); on one, at that rank's acknowledgement. One that had not begun when its group
 * died goes back to `queued` (`requeue`). Its consumer reads `buffer`.
 */
export class RunnerRequest {
  /** The runner's own number for it, which every message about it carries. */
  readonly id: number;
  /** The id the worker sees as `ctx.requestId`. */
  readonly requestId: string;
  /** The encoded payload. */
  readonly payload: Uint8Array;
  /** `true` for `stream()`: the consumer reads its results and is told its queue position. */
  readonly streaming: boolean;
  readonly imageFormat: ImageFormat;
  /** Fail with STREAM_IDLE after this many ms without an event, while running. */
  readonly streamingTimeout: number | undefined;
  /** Its events and outcome, as its consumer reads them. */
  readonly buffer: EventBuffer;
  private currentState: RequestState = "queued";
  /** Ranks that have not yet finished or abandoned it. */
  private readonly pending = new Set<number>();
  /** Ranks that acknowledged this sending of it (`started`). */
  private readonly acknowledged = new Set<number>();
  /** How many ranks it was sent to this time. */
  private ranks = 0;
  /** Sent held: its ranks wait for `go` (several ranks). */
  private isHeld = false;
  /** A rank may have run its `call()`: it is never run again. */
  private hasBegun = false;
  /** How many times it was sent to a group: a timer armed for one sending ignores the next. */
  private dispatches = 0;
  /** Rank 0's encoded return value, once it arrived. */
  private output: Uint8Array | undefined;
  /** A rank's COLLECTIVE_ABORTED caused by another rank: the outcome only if no better one comes. */
  private abortEcho: Error | undefined;
  private producers: ResultProducers | undefined;
  private readonly cleanups: (() => void)[] = [];

  constructor(init: RunnerRequestInit) {
    this.id = init.id;
    this.requestId = init.requestId;
    this.payload = init.payload;
    this.streaming = init.streaming;
    this.imageFormat = init.imageFormat;
    this.streamingTimeout = init.streamingTimeout;
    this.buffer = new EventBuffer(
      init.highWaterMark,
      (paused) => this.onPressure(paused),
      init.streamingTimeout !== undefined,
    );
  }

  get state(): RequestState {
    return this.currentState;
  }

  /** The ranks still running it, lowest first (they were added in order). */
  get pendingRanks(): number[] {
    return [...this.pending];
  }

  /** `true` while `rank` has neither finished nor abandoned it. */
  isPendingOn(rank: number): boolean {
    return this.pending.has(rank);
  }

  /** Runs `cleanup` (a timer, a signal listener) when the request finishes. */
  onFinish(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /** Tells a streaming consumer how many requests are ahead of this one. */
  announcePosition(position: number): void {
    if (this.streaming) this.buffer.push({ kind: "queued", position });
  }

  /**
   * It is sent to ranks `0..worldSize-1`, which produce its results: held (see `held`) when there
   * are several. Returns the sending's number.
   */
  start(worldSize: number, producers: ResultProducers): number {
    this.currentState = "running";
    this.producers = producers;
    this.ranks = worldSize;
    this.isHeld = worldSize > 1;
    for (let rank = 0; rank < worldSize; rank++) this.pending.add(rank);
    // A streaming timeout counts from here, not from the last queue position it was told.
    this.buffer.lastPushAt = performance.now();
    return ++this.dispatches;
  }

  /** `true` while it is running as sent the `dispatch`-th time (a timer checks its own sending). */
  isRunningAs(dispatch: number): boolean {
    return this.currentState === "running" && this.dispatches === dispatch;
  }

  /** Its ranks acknowledge it and wait for `go` before running it (it was sent to several). */
  get held(): boolean {
    return this.isHeld;
  }

  /**
   * Rank `rank` acknowledged it (`started`). Unheld, it has begun. Held, returns `true` when this
   * was the last rank's acknowledgement while it still runs: the caller may `release` it.
   */
  rankAcknowledged(rank: number): boolean {
    this.acknowledged.add(rank);
    if (!this.isHeld) {
      this.begin();
      return false;
    }
    return (
      !this.hasBegun && this.currentState === "running" && this.acknowledged.size === this.ranks
    );
  }

  /** The caller sends the held request's `go` to every rank: it has begun. */
  release(): void {
    this.begin();
  }

  /** `true` once a rank may have run it: from then on it ran, and is never run again. */
  get begun(): boolean {
    return this.hasBegun;
  }

  /**
   * Its group died before it began: back to `queued`, to be sent to the next group as if for the
   * first time. Only a running request that had not begun, and whose outcome is not known, can be
   * re-queued (nothing else about it came from a rank: the acknowledgement comes first, and no
   * rank runs a held call before its `go`).
   */
  requeue(): void {
    this.currentState = "queued";
    this.producers = undefined;
    this.pending.clear();
    this.acknowledged.clear();
  }

  /**
   * Its outcome is known while ranks still run it. Returns `true` when it was running, so the
   * caller cancels it on those ranks (once).
   */
  settle(): boolean {
    if (this.currentState !== "running") return false;
    this.currentState = "settling";
    return true;
  }

  /** Fails it for its consumer now (buffered events are dropped); the ranks may still run it. */
  fail(error: Error): void {
    this.buffer.fail(error);
  }

  /** Rank `rank` returned; rank 0's `output` is the request's. */
  rankReturned(rank: number, output: Uint8Array): void {
    this.pending.delete(rank);
    if (rank === 0) this.output = output;
  }

  /**
   * Rank `rank` threw (or gave up after a cancel, `aborted`). Returns `true` when this is the
   * request's outcome, so the caller cancels it on the other ranks, which may be waiting for this
   * one in a collective. An abort echo (the rank only saw another rank abort a collective) is the
   * outcome only if that rank's own error never comes.
   */
  rankFailed(rank: number, error: Error, { echo, aborted }: { echo: boolean; aborted: boolean }) {
    this.pending.delete(rank);
    if (echo) {
      this.abortEcho ??= error;
      return false;
    }
    if (aborted || this.buffer.outcome !== undefined) return false;
    this.buffer.finish({ ok: false, error });
    return true;
  }

  /** `true` once no rank runs it. */
  get allRanksDone(): boolean {
    return this.pending.size === 0;
  }

  /**
   * No rank holds it any more: its outcome is set if it was not (rank 0's output, or the abort
   * echo), its timers are cleared, and results still buffered for a slow consumer stay with it
   * but no longer hold the ranks. Returns `true` when it succeeded.
   */
  finish(): boolean {
    let succeeded = false;
    if (this.buffer.outcome === undefined) {
      if (this.abortEcho !== undefined) {
        this.buffer.finish({ ok: false, error: this.abortEcho });
      } else {
        this.buffer.finish({ ok: true, output: this.output ?? encodeValue(undefined) });
        succeeded = true;
      }
    }
    this.currentState = "finished";
    this.producers = undefined;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.buffer.detach();
    return succeeded;
  }

  /** The first time it begins, a streaming consumer is told `started`: every rank runs it now. */
  private begin(): void {
    if (this.hasBegun) return;
    this.hasBegun = true;
    if (this.streaming) this.buffer.push({ kind: "started" });
  }

  private onPressure(paused: boolean): void {
    const producers = this.producers;
    if (producers === undefined) return;
    if (paused) producers.pauseResults();
    else producers.resumeResults();
  }
}
