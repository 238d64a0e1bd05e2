import type { EncodeContext } from "../events/event-data.ts";
import { encodeFalEvent } from "../events/fal-dialect.ts";
import { isTerminal } from "../events/request-event.ts";
import type { Dialect } from "../events/sse-names.ts";
import { carriesId, encodeTroupeEvent } from "../events/troupe-dialect.ts";
import { ReplayBuffer } from "./replay-buffer.ts";
import type { SseConnection } from "./sse-connection.ts";
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
  readonly hooks: SessionHooks;
}

/**
 * One streaming request, from the handler's stream to whichever connection currently reads it.
 * Events are pulled from the source only while a connection is attached and its socket has room,
 * so a slow or absent client holds the runner (and so the worker) back instead of filling memory.
 * Each event is written by the encoder of the session's dialect. fal's dialect cancels the
 * request as soon as its connection closes, and aborts the response after a fatal error event
 * (its clients read only `data:` lines, so a clean end would read as success); troupe's keeps
 * every id'd event in a bounded replay buffer and waits `resumeWindow` ms for the client to
 * come back.
 */
export class StreamSession {
  readonly requestId: string;
  readonly dialect: Dialect;
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
   * dialect). Returns `false` when those events are no longer kept: the caller answers
   * REPLAY_UNAVAILABLE.
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
    previous?.destroy();
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    connection.closed.addEventListener("abort", () => this.detach(connection), { once: true });
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
    this.emit({ type: "error", error, fatal: true });
    this.cancelled = true;
    this.source.cancel(new DOMException("The server is shutting down", "AbortError"));
    this.wakeUp();
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

  /** Waits until there is a connection with room, or the request no longer needs one. */
  private async writable(): Promise<void> {
    for (;;) {
      if (this.cancelled || this.ended) return;
      const connection = this.connection;
      if (connection !== undefined && !connection.blocked) return;
      if (connection !== undefined) {
        await Promise.race([connection.drained(), new Promise<void>((r) => (this.wake = r))]);
      } else await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
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
