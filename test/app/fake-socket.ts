import { EventEmitter } from "node:events";

/** The socket under a {@link FakeResponse}: records whether it was ended or destroyed. */
export class FakeSocket extends EventEmitter {
  ended = false;
  destroyed = false;
  setNoDelay(): this {
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/**
 * A Node HTTP response for SseConnection tests: records its head and body writes;
 * `writableNeedDrain` makes it report backpressure; emitting "close" is the client going away.
 */
export class FakeResponse extends EventEmitter {
  readonly socket = new FakeSocket();
  head: { status: number; headers: Record<string, unknown> } | undefined;
  flushed = false;
  writes: string[] = [];
  writableNeedDrain = false;
  destroyed = false;
  ended = false;
  writeHead(status: number, headers: Record<string, unknown>): this {
    this.head = { status, headers };
    return this;
  }
  flushHeaders(): void {
    this.flushed = true;
  }
  /** Write callbacks not yet called: `flushWrites()` hands the bytes on, as the socket would. */
  pendingCallbacks: (() => void)[] = [];
  write(chunk: Uint8Array | string, callback?: () => void): boolean {
    this.writes.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
    if (callback !== undefined) this.pendingCallbacks.push(callback);
    return !this.writableNeedDrain;
  }
  flushWrites(): void {
    for (const callback of this.pendingCallbacks.splice(0)) callback();
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit("close");
    return this;
  }
}
