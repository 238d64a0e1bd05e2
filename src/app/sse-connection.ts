import type { Socket } from "node:net";
import { SSE_CONTENT_TYPE, SSE_HEARTBEAT, SseHeader } from "../encoding/sse.ts";

/** Timers the heartbeat uses; injectable so tests drive them. */
export interface HeartbeatTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realTimers: HeartbeatTimers = {
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** How long an ended response waits for the client to close before the socket is destroyed. */
const END_GRACE_MS = 5000;

/** Chunks queued before a flush is forced even though the microtask queue has not settled. */
const MAX_PENDING_BYTES = 64 * 1024;

/**
 * One SSE response written straight to a hijacked socket. Writes are queued and flushed together
 * on the next tick, so every event that is ready in the same turn leaves in one `socket.write`;
 * `blocked` and `drained()` expose the socket's backpressure to whoever produces the events.
 * The body is delimited by the connection's end (`Connection: close`): after an SSE response the
 * socket is closed, never reused.
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
    private readonly socket: Socket,
    requestId: string,
    heartbeatInterval: number,
    private readonly timers: HeartbeatTimers,
    /** More response headers (CORS); names and values must be valid header text. */
    extraHeaders: Readonly<Record<string, string>> = {},
  ) {
    socket.setNoDelay(true);
    const close = (): void => this.onClose();
    // A client that goes away shows as 'end' (its FIN) or 'close'/'error' (reset); either is final.
    socket.once("end", close);
    socket.once("close", close);
    socket.once("error", close);
    socket.on("drain", () => this.releaseDrainWaiters());
    socket.write(
      "HTTP/1.1 200 OK\r\n" +
        `Content-Type: ${SSE_CONTENT_TYPE}; charset=utf-8\r\n` +
        "Cache-Control: no-cache\r\n" +
        "X-Accel-Buffering: no\r\n" +
        "Connection: close\r\n" +
        Object.entries(extraHeaders)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join("") +
        `${SseHeader.requestId}: ${requestId}\r\n\r\n`,
    );
    if (socket.destroyed) this.onClose();
    if (heartbeatInterval > 0 && heartbeatInterval !== Number.POSITIVE_INFINITY) {
      this.heartbeat = timers.setInterval(() => this.beat(), heartbeatInterval);
    }
  }

  /** Aborts when the socket closed, for whatever reason. */
  get closed(): AbortSignal {
    return this.closedController.signal;
  }

  /** `true` while the socket's buffer is full: stop producing until {@link drained}. */
  get blocked(): boolean {
    return this.socket.writableNeedDrain || this.pendingBytes >= MAX_PENDING_BYTES;
  }

  /** Resolves when the socket can take more (or closed). */
  drained(): Promise<void> {
    if (!this.blocked || this.closed.aborted) return Promise.resolve();
    if (this.pendingBytes >= MAX_PENDING_BYTES) this.flush();
    if (!this.socket.writableNeedDrain) return Promise.resolve();
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

  /** Writes what is queued (plus `last`) and closes the connection. */
  end(last?: Uint8Array | string): void {
    if (last !== undefined) this.write(last);
    if (this.closed.aborted) return;
    this.flush();
    this.stopHeartbeat();
    this.socket.end();
    // A client that never closes its side must not hold the server's close() forever.
    setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
    this.closedController.abort();
    this.releaseDrainWaiters();
  }

  /** Closes at once, dropping anything queued. */
  destroy(): void {
    this.pending = [];
    this.socket.destroy();
    this.onClose();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closed.aborted) return;
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (chunks.length === 1) this.socket.write(chunks[0] as Uint8Array | string);
    else {
      this.socket.write(
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

  private onClose(): void {
    if (this.closed.aborted) return;
    this.stopHeartbeat();
    this.pending = [];
    this.closedController.abort();
    this.releaseDrainWaiters();
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
