import type { OutgoingHttpHeader, ServerResponse } from "node:http";
import { SSE_CONTENT_TYPE, SSE_HEARTBEAT } from "../events/sse-names.ts";

/**
 * Timers a server's streams use: the heartbeat's interval and the slow-reader timeout.
 * Injectable so tests drive them; without `setTimeout` the global timers time slow readers.
 */
export interface HeartbeatTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  setTimeout?(callback: () => void, ms: number): unknown;
  clearTimeout?(handle: unknown): void;
}

export const realTimers: Required<HeartbeatTimers> = {
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How long an aborted response waits for the client to close before the socket is destroyed. */
const ABORT_GRACE_MS = 5000;

/** Bytes queued before a flush is forced even though the turn has not ended. */
const MAX_PENDING_BYTES = 64 * 1024;

/**
 * One SSE response, written through Node's HTTP response: chunked transfer encoding (so the
 * client can tell the end of the stream from a truncation), keep-alive, and the headers fastify's
 * hooks put on the reply (request ids, CORS). Writes are queued and leave together on the next
 * tick, so every event ready in the same turn is one chunk; `blocked` and `drained()` expose the
 * socket's backpressure to whoever produces the events.
 */
export class SseConnection {
  private pending: (Uint8Array | string)[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private wroteSinceBeat = false;
  private heartbeat: unknown;
  private readonly closedController = new AbortController();
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    /** The reply's headers so far (request ids, CORS, the dialect). */
    headers: Readonly<Record<string, OutgoingHttpHeader | undefined>>,
    heartbeatInterval: number,
    private readonly timers: HeartbeatTimers,
  ) {
    res.socket?.setNoDelay(true);
    // 'close' comes when the response finished or the connection went away, whichever is first.
    res.once("close", () => this.onClose());
    res.on("drain", () => this.releaseDrainWaiters());
    const head: Record<string, OutgoingHttpHeader> = {};
    for (const [name, value] of Object.entries(headers))
      if (value !== undefined) head[name] = value;
    res.writeHead(200, {
      ...head,
      "content-type": `${SSE_CONTENT_TYPE}; charset=utf-8`,
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    });
    // The client needs the head (its request id) before the first event.
    res.flushHeaders();
    if (res.destroyed) this.onClose();
    if (heartbeatInterval > 0 && heartbeatInterval !== Number.POSITIVE_INFINITY) {
      this.heartbeat = timers.setInterval(() => this.beat(), heartbeatInterval);
    }
  }

  /** Aborts when the response is over, for whatever reason. */
  get closed(): AbortSignal {
    return this.closedController.signal;
  }

  /** `true` while the socket's buffer is full: stop producing until {@link drained}. */
  get blocked(): boolean {
    return this.res.writableNeedDrain || this.pendingBytes >= MAX_PENDING_BYTES;
  }

  /** Resolves when the socket can take more (or the response is over). */
  drained(): Promise<void> {
    if (!this.blocked || this.closed.aborted) return Promise.resolve();
    if (this.pendingBytes >= MAX_PENDING_BYTES) this.flush();
    if (!this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Queues `chunk`; it leaves with everything else queued in this turn. */
  write(chunk: Uint8Array | string): void {
    if (this.closed.aborted) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.wroteSinceBeat = true;
    if (this.pendingBytes >= MAX_PENDING_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Writes what is queued and ends the response cleanly (the terminating chunk). */
  end(): void {
    if (this.closed.aborted) return;
    this.flush();
    this.stopHeartbeat();
    this.res.end();
    this.close();
  }

  /**
   * Writes `chunk` and ends the response cleanly, for a reader the stream no longer needs (its
   * owner resumed it elsewhere). That reader's connection may be the half-open one its owner
   * left: if the bytes have not left within a grace period, the connection is dropped.
   */
  endWith(chunk: Uint8Array | string): void {
    if (this.closed.aborted) return;
    this.write(chunk);
    this.end();
    if (this.res.writableFinished) return;
    const res = this.res;
    setTimeout(() => {
      if (!res.writableFinished) res.destroy();
    }, ABORT_GRACE_MS).unref();
  }

  /**
   * Writes what is queued, then ends the connection without the terminating chunk: every HTTP
   * client reads that as a broken response, never as a complete one. The socket's own `end()`
   * sends the queued bytes before the FIN, so the last event still arrives.
   */
  abort(): void {
    if (this.closed.aborted) return;
    this.stopHeartbeat();
    const socket = this.res.socket;
    if (socket === null) {
      this.res.destroy();
      this.close();
      return;
    }
    // End the socket only once the response has handed the queued bytes on: newer Nodes keep a
    // response's writes in its own buffer for a while, and ending the socket first loses them.
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.flushScheduled = false;
    const last = Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c)));
    this.res.write(last.length > 0 ? last : ": end\n\n", () => socket.end());
    // A client that never closes its side must not hold the server's close() forever.
    setTimeout(() => socket.destroy(), ABORT_GRACE_MS).unref();
    this.close();
  }

  /** Closes at once, dropping anything queued. */
  destroy(): void {
    this.pending = [];
    this.res.destroy();
    this.onClose();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closed.aborted) return;
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (chunks.length === 1) this.res.write(chunks[0] as Uint8Array | string);
    else {
      this.res.write(
        Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c))),
      );
    }
  }

  private beat(): void {
    if (!this.wroteSinceBeat) this.write(SSE_HEARTBEAT);
    this.wroteSinceBeat = false;
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) this.timers.clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private close(): void {
    this.closedController.abort();
    this.releaseDrainWaiters();
  }

  private onClose(): void {
    if (this.closed.aborted) return;
    this.stopHeartbeat();
    this.pending = [];
    this.close();
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
