/**
 * The reading side of the channel: splits a byte stream into frames and decodes each with the
 * decoder of its kind (results or control). No I/O.
 */
import { decodeControlBody } from "./control-frame.ts";
import { HEADER_BYTES, readFrameLength } from "./frame-header.ts";
import { decodeResultsBody, RESULTS_TAG } from "./results-frame.ts";

/**
 * Splits a byte stream into frames and decodes them. Feed chunks as they arrive, split anywhere;
 * `push` returns the complete messages, in order. It copies whatever it keeps, so the caller may
 * reuse a chunk's memory as soon as `push` returns (a socket reading into one buffer does).
 */
export class FrameDecoder {
  /** The first bytes of a length header split across chunks. */
  private readonly header = new Uint8Array(HEADER_BYTES);
  private headerBytes = 0;
  /** The body length of the frame arriving across chunks, or -1 when none is. */
  private bodyLength = -1;
  /** That frame's body so far, as copies of the chunks it came in. */
  private parts: Uint8Array[] = [];
  private partBytes = 0;

  push(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    const end = chunk.byteLength;
    let at = 0;
    // First finish the frame an earlier chunk began: its header, then its body.
    if (this.headerBytes > 0) {
      at = Math.min(HEADER_BYTES - this.headerBytes, end);
      this.header.set(chunk.subarray(0, at), this.headerBytes);
      this.headerBytes += at;
      if (this.headerBytes < HEADER_BYTES) return out;
      this.headerBytes = 0;
      this.bodyLength = readFrameLength(this.header, 0);
      this.partBytes = 0;
    }
    if (this.bodyLength >= 0) {
      const take = Math.min(this.bodyLength - this.partBytes, end - at);
      if (take > 0) this.parts.push(copy(chunk, at, at + take));
      this.partBytes += take;
      at += take;
      if (this.partBytes < this.bodyLength) return out;
      const body = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : concat(this.parts);
      this.parts = [];
      this.bodyLength = -1;
      out.push(decodeBody(body));
    }
    // Then every whole frame in the chunk, from one copy of the bytes they span.
    let span = at;
    while (end - span >= HEADER_BYTES) {
      const length = readFrameLength(chunk, span);
      if (end - span - HEADER_BYTES < length) break;
      span += HEADER_BYTES + length;
    }
    if (span > at) {
      const frames = copy(chunk, at, span);
      for (let offset = 0; offset < frames.byteLength; ) {
        const start = offset + HEADER_BYTES;
        offset = start + readFrameLength(frames, offset);
        out.push(decodeBody(frames.subarray(start, offset)));
      }
    }
    // And keep the start of the next one.
    if (end - span >= HEADER_BYTES) {
      this.bodyLength = readFrameLength(chunk, span);
      this.parts = [copy(chunk, span + HEADER_BYTES, end)];
      this.partBytes = end - span - HEADER_BYTES;
    } else if (end > span) {
      this.header.set(chunk.subarray(span, end));
      this.headerBytes = end - span;
    }
    return out;
  }

  /** Bytes of an incomplete frame held back. */
  get buffered(): number {
    return this.bodyLength >= 0 ? HEADER_BYTES + this.partBytes : this.headerBytes;
  }
}

/** A frame's body, by its first byte: a results frame, or a control frame. */
function decodeBody(body: Uint8Array): unknown {
  return body[0] === RESULTS_TAG ? decodeResultsBody(body) : decodeControlBody(body);
}

/** Copies up to this size share slabs of SLAB_BYTES; larger ones get memory of their own. */
const SLAB_COPY_MAX = 4096;
const SLAB_BYTES = 64 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A copy of `bytes[start, end)`, as a plain Uint8Array (a Buffer's `slice` would be a view). Small
 * copies are carved out of a shared slab, as Node's buffer pool does, so a frame of one result
 * costs no allocation of its own; and a new `Uint8Array` of a few bytes would live on V8's heap,
 * where taking its `.buffer` (as the results layout does) moves it out first. Plain views rather
 * than Buffers: creating a Buffer view runs JavaScript (its species constructor), a Uint8Array
 * view does not, and this is on the path of every streamed result.
 */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const length = end - start;
  const source = new Uint8Array(bytes.buffer, bytes.byteOffset + start, length);
  if (length > SLAB_COPY_MAX) return new Uint8Array(source);
  if (slabUsed + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, length);
  out.set(source);
  slabUsed = (slabUsed + length + 7) & ~7; // 8-byte aligned, as Node's pool
  return out;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
