import { encodeDataEvent, encodeEvent } from "../encoding/sse.ts";
import { ReplayBuffer } from "./replay-buffer.ts";
import type { SseConnection } from "./sse-connection.ts";
import type { Source, SourceItem } from "./stream-source.ts";

/** What a session reports to the server (metrics, the registry). */
export interface SessionHooks {
  /** An event (not a heartbeat) left for a client; `first` for the request's first one. */
  onEvent(first: boolean): void;
  /** The request's last event was produced (or it was cancelled without one). */
  onEnd(session: StreamSession): void;
}

export interface SessionOptions {
  readonly requestId: string;
  readonly dialect: 1 | 2;
  readonly replayLimit: number;
  readonly resumeWindow: number;
  readonly hooks: SessionHooks;
}

/**
 * One streaming request, from the handler's stream to whichever connection currently reads it.
 * Events are pulled from the source only while a connection is attached and its socket has room,
 * so a slow or absent client holds the runner (and so the worker) back instead of filling memory.
 * Dialect 1 cancels the request as soon as its connection closes; dialect 2 keeps every id'd event
 * in a bounded replay buffer and waits `resumeWindow` ms for the client to come back.
 */
export class StreamSession {
  readonly requestId: string;
  readonly dialect: 1 | 2;
  private readonly replay: ReplayBuffer | undefined;
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
    this.replay = options.dialect === 2 ? new ReplayBuffer(options.replayLimit) : undefined;
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
      this.emit({
        type: "event",
        event: "error",
        data: JSON.stringify({ error: { code: "INTERNAL", message: String(error) }, fatal: true }),
        final: true,
      });
    } finally {
      this.finish();
    }
  }

  /**
   * Makes `connection` the reader, replaying every id'd event after `lastId` first (dialect 2).
   * Returns `false` when those events are no longer kept: the caller answers REPLAY_UNAVAILABLE.
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

  /** Ends the stream now with `item` as its last event (shutdown), then cancels the work. */
  abandon(item: SourceItem): void {
    if (this.ended) return;
    this.emit(item);
    this.ended = true;
    this.connection?.end();
    this.cancelled = true;
    this.source.cancel(new DOMException("The server is shutting down", "AbortError"));
    this.wakeUp();
  }

  private detach(connection: SseConnection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    // Ended, or cancelled (a DELETE that came first): nothing to wait for a resume of.
    if (this.ended || this.cancelled) return;
    if (this.dialect === 1) {
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
    switch (item.type) {
      case "raw":
        connection?.write(item.chunk);
        break;
      case "status": {
        const bytes = encodeEvent({ event: item.event, data: item.data });
        this.status = bytes;
        connection?.write(bytes);
        break;
      }
      case "event": {
        let bytes: Uint8Array;
        if (this.replay !== undefined) {
          const id = this.nextId++;
          bytes = encodeEvent({
            ...(item.event === undefined ? {} : { event: item.event }),
            id: String(id),
            data: item.data,
          });
          this.replay.push(id, bytes);
        } else if (item.event === undefined) bytes = encodeDataEvent(item.data);
        else bytes = encodeEvent({ event: item.event, data: item.data });
        connection?.write(bytes);
        if (item.final) this.ended = true;
        break;
      }
    }
    if (item.type !== "status") {
      this.options.hooks.onEvent(!this.sentAny);
      this.sentAny = true;
    }
    if (this.ended) connection?.end();
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
