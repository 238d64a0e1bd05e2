/** Encodes one store message: a 4-byte little-endian length, then UTF-8 JSON. */
export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Splits a byte stream into the JSON messages {@link encodeFrame} wrote. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every message they complete. */
  push(chunk: Buffer): unknown[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: unknown[] = [];
    while (this.#pending.length >= 4) {
      const length = this.#pending.readUInt32LE(0);
      if (this.#pending.length < 4 + length) break;
      out.push(JSON.parse(this.#pending.toString("utf8", 4, 4 + length)));
      this.#pending = this.#pending.subarray(4 + length);
    }
    return out;
  }
}
