import { EventEmitter } from "node:events";

/** A socket for SseConnection tests: records its writes; `writableNeedDrain` makes it report backpressure. */
export class FakeSocket extends EventEmitter {
  writes: string[] = [];
  writableNeedDrain = false;
  destroyed = false;
  ended = false;
  setNoDelay(): this {
    return this;
  }
  write(chunk: Uint8Array | string): boolean {
    this.writes.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
    return !this.writableNeedDrain;
  }
  end(callback?: () => void): this {
    this.ended = true;
    callback?.();
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit("close");
    return this;
  }
}
