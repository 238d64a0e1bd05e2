import type { EncodeContext } from "../events/event-data.ts";
import { encodeFalEvent } from "../events/fal-dialect.ts";
import { isTerminal } from "../events/request-event.ts";
import type { Dialect } from "../events/sse-names.ts";
import { carriesId, encodeTroupeEvent } from "../events/troupe-dialect.ts";
import { onAbort } from "../internal/abort-of.ts";
import { ReaderReplacedError, SlowReaderError } from "./errors.ts";
import { ReplayBuffer } from "./replay-buffer.ts";
import type { RequestOwner } from "./request-owner.ts";
import { type HeartbeatTimers, realTimers, type SseConnection } from "./sse-connection.ts";
import type { Source, SourceItem } from "./stream-source.ts";

/** What a session reports to the server (metrics, the registry, the log). */
export interface SessionHooks {
  /** An event (not a heartbeat or a status) left for a client; `first` for the request's first one. */
  onEvent(first: boolean): void;
  /** The request's last event was produced (or it was cancelled without one). */
  onEnd(session: StreamSession): void;
}

export interface SessionOptions {
  readonly requestId: string;
  readonly dialect: Dialect;
  readonly replayLimit: number;
  readonly resumeWindow: number;
  /** ms a reader may take nothing while events wait for it; 0 (or not finite): no limit. */
  readonly slowReaderTimeout: number;
  readonly timers: HeartbeatTimers;
  /** Who may resume and cancel the request. */
  readonly owner: RequestOwner;
  readonly hooks: SessionHooks;
}

/** The longest delay Node's timers keep (a longer one would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One streaming request, from the handler's stream to whichever connection currently reads it.
 * Events are pulled from the source only while a connection is attached and its socket has room,
 * so a slow or absent client holds the runner (and so the worker) back instead of filling memory.
 * A reader that takes nothing for `slowReaderTimeout` while events wait for it fails the
 * request (SLOW_READER), so it cannot hold the runner. Each event is written by the encoder of
 * the session's dialect. fal's dialect cancels the request as soon as its connection closes, and
 * aborts the response after a fatal error event (its clients read only `data:` lines, so a clean
 * end would read as success); troupe's keeps every id'd event in a bounded replay buffer and
 * waits `resumeWindow` ms for the client to come back. There is one reader at a time: a resume
 * replaces the reader, which is told so (READER_REPLACED) before its connection ends.
 */
export class StreamSession {
  readonly requestId: string;
  readonly dialect: Dialect;
  readonly owner: RequestOwner;
  /** The error that failed the request, once its last event was a fatal `error`. */
  failure: unknown;
  private readonly replay: ReplayBuffer | undefined;
  private readonly context: EncodeContext;
  private connection: SseConnection | undefined;
  private nextId = 1;
  private status: Uint8Array | undefined;
  private sentAny = false;
  private ended = false;
  private cancelled = false;
  private wake: (() => void) | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: Source,
    private readonly options: SessionOptions,
  ) {
    this.requestId = options.requestId;
    this.dialect = options.dialect;
    this.owner = options.owner;
    this.context = { requestId: options.requestId, forwardsAllRanks: source.forwardsAllRanks };
    this.replay = options.dialect === "troupe" ? new ReplayBuffer(options.replayLimit) : undefined;
  }

  /** `true` once the request's last event was produced. */
  get finished(): boolean {
    return this.ended;
  }

  /** Pulls the source until it ends; resolves then. Call once. */
  async run(): Promise<void> {
    try {
      while (!this.ended) {
        await this.writable();
        const r = await this.source.next();
        if (r.done) break;
        this.emit(r.value);
      }
    } catch (error) {
      // A Source turns failures into a fatal event; reaching here is a bug in it.
      this.emit({ type: "error", error, fatal: true });
    } finally {
      this.finish();
    }
  }

  /**
   * Makes `connection` the reader, replaying every id'd event after `lastId` first (troupe's
   * dialect). A reader it replaces gets a READER_REPLACED event and its connection ends: never
   * closed silently, so it does not take the end for a drop and resume in turn. Returns `false`
   * when the events are no longer kept: the caller answers REPLAY_UNAVAILABLE.
   */
  attach(connection: SseConnection, lastId = 0): boolean {
    if (this.replay !== undefined) {
      const missed = this.replay.after(lastId);
      if (missed === undefined) return false;
      if (!this.ended && this.status !== undefined) connection.write(this.status);
      for (const bytes of missed) connection.write(bytes);
    }
    if (this.ended) {
      connection.end();
      return true;
    }
    const previous = this.connection;
    this.connection = connection;
    previous?.endWith(this.replacedEvent());
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    // A connection closed before it was attached is detached at once, as a later close would be.
    onAbort(connection.closed, () => this.detach(connection));
    this.wakeUp();
    return true;
  }

  /** Cancels the request on every rank; the attached client gets the fatal error that follows. */
  cancel(reason: Error): void {
    if (this.ended || this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.resumeTimer);
    this.source.cancel(reason);
    this.wakeUp();
  }

  /** Ends the stream now with a fatal error event for `error` (shutdown), then cancels the work. */
  abandon(error: Error): void {
    if (this.ended) return;
    this.fail(error, new DOMException("The server is shutting down", "AbortError"));
  }

  /** Ends the stream with a fatal error event for `error`, then cancels the work for `reason`. */
  private fail(error: Error, reason: Error): void {
    this.emit({ type: "error", error, fatal: true });
    this.cancelled = true;
    clearTimeout(this.resumeTimer);
    this.source.cancel(reason);
    this.wakeUp();
  }

  /**
   * `connection` took nothing for `ms` while events waited: it is dropped and the request fails
   * with SLOW_READER on every rank (the fatal event stays in the replay buffer for a resume).
   */
  private dropSlowReader(connection: SseConnection, ms: number): void {
    if (this.connection !== connection || this.ended || this.cancelled) return;
    this.connection = undefined;
    connection.destroy();
    const error = new SlowReaderError(
      `The client read nothing for ${ms} ms while events waited for it; the request was cancelled`,
    );
    this.fail(error, error);
  }

  /** The event that tells a replaced reader why its connection ends (no id: it is not the request's). */
  private replacedEvent(): Uint8Array {
    const error = new ReaderReplacedError(
      "The request was resumed on another connection, which reads it from now on",
    );
    return encodeTroupeEvent({ type: "error", error, fatal: false }, undefined, this.context);
  }

  private detach(connection: SseConnection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    // Ended, or cancelled (a DELETE that came first): nothing to wait for a resume of.
    if (this.ended || this.cancelled) return;
    if (this.dialect === "fal") {
      this.cancel(new DOMException("The client disconnected", "AbortError"));
      return;
    }
    this.resumeTimer = setTimeout(() => {
      this.cancel(new DOMException("The client did not resume the stream in time", "AbortError"));
    }, this.options.resumeWindow);
    this.resumeTimer.unref?.();
  }

  /**
   * Waits until there is a connection with room, or the request no longer needs one. While an
   * event waits for a blocked reader, that reader has `slowReaderTimeout` ms to take some.
   */
  private async writable(): Promise<void> {
    for (;;) {
      if (this.cancelled || this.ended) return;
      const connection = this.connection;
      if (connection !== undefined && !connection.blocked) return;
      const woken = new Promise<void>((r) => (this.wake = r));
      if (connection === undefined) await woken;
      else {
        const disarm = this.timeSlowReader(connection);
        await Promise.race([connection.drained(), woken]);
        disarm();
      }
      this.wake = undefined;
    }
  }

  /** Arms the slow-reader timeout for `connection`; returns what disarms it. */
  private timeSlowReader(connection: SseConnection): () => void {
    const ms = this.options.slowReaderTimeout;
    if (!(ms > 0) || !Number.isFinite(ms)) return () => {};
    const timers = timeoutsOf(this.options.timers);
    const handle = timers.setTimeout(
      () => this.dropSlowReader(connection, ms),
      Math.min(ms, MAX_TIMER_MS),
    );
    return () => timers.clearTimeout(handle);
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private emit(item: SourceItem): void {
    if (this.ended) return;
    const connection = this.connection;
    if (item.type === "raw") {
      connection?.write(item.chunk);
      this.counted();
      if (item.failure === undefined) return;
      this.ended = true;
      this.failure = item.failure;
      connection?.abort();
      return;
    }
    const bytes = this.encode(item);
    if (bytes === undefined) return;
    connection?.write(bytes);
    if (item.type === "queued" || item.type === "started" || item.type === "heartbeat") return;
    this.counted();
    if (!isTerminal(item)) return;
    this.ended = true;
    if (item.type === "error") {
      this.failure = item.error;
      if (this.dialect === "fal") {
        connection?.abort();
        return;
      }
    }
    connection?.end();
  }

  /** `item` in the session's dialect: ids and the replay buffer in troupe's. */
  private encode(item: Exclude<SourceItem, { type: "raw" }>): Uint8Array | undefined {
    if (this.replay === undefined) return encodeFalEvent(item, this.context);
    if (!carriesId(item)) {
      const bytes = encodeTroupeEvent(item, undefined, this.context);
      if (item.type !== "heartbeat") this.status = bytes;
      return bytes;
    }
    const id = this.nextId++;
    const bytes = encodeTroupeEvent(item, id, this.context);
    this.replay.push(id, bytes);
    return bytes;
  }

  private counted(): void {
    this.options.hooks.onEvent(!this.sentAny);
    this.sentAny = true;
  }

  private finish(): void {
    if (!this.ended) {
      this.ended = true;
      this.connection?.end();
    }
    clearTimeout(this.resumeTimer);
    this.options.hooks.onEnd(this);
  }
}

/** The timeouts of `timers`, or the global ones when it has only intervals. */
function timeoutsOf(
  timers: HeartbeatTimers,
): Pick<Required<HeartbeatTimers>, "setTimeout" | "clearTimeout"> {
  const { setTimeout: set, clearTimeout: clear } = timers;
  if (set === undefined || clear === undefined) return realTimers;
  return {
    setTimeout: (callback, ms) => set.call(timers, callback, ms),
    clearTimeout: (handle) => clear.call(timers, handle),
  };
}
