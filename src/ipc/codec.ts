/**
 * Framing between the runner and its ranks: each frame is a 4-byte big-endian length followed by
 * one message: MessagePack-encoded, or for streamed results a layout of its own (see
 * {@link encodeResultsFrame}) that carries each result's encoded bytes as they are. Pure functions
 * and a push-based decoder; no I/O.
 */
import { addExtension, Packr, RESERVE_START_SPACE } from "msgpackr";
import { Image, type ImageChannels, type ImageFormat } from "../encoding/image.ts";
import type { TensorDType } from "../encoding/npy.ts";
import { Tensor } from "../encoding/tensor.ts";
import { ProtocolError, type SerializedError } from "../errors.ts";
import type { LogLevel, RankMessage, RunnerMessage } from "./messages.ts";
import { decodePlain, NOT_PLAIN } from "./plain-decode.ts";

/** Largest frame either side accepts (a result is bounded by this too). */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

const HEADER_BYTES = 4;

// Records are off: every frame must decode on its own, without structures shared between sides.
// Without records a Map arrives as a plain object, as in JSON (`assertSendable` lets through only
// Maps whose keys are strings or numbers).
const packr = new Packr({ moreTypes: true, useRecords: false });

// Images and tensors keep their class across the boundary: their bytes travel raw beside a
// small header, and the other side rebuilds them.
addExtension({
  Class: Image,
  type: 0x49,
  write: (image: Image) => [
    image.width,
    image.height,
    image.contentType ?? null,
    image.channels ?? 0,
    image.bytes,
  ],
  read: ([width, height, contentType, channels, bytes]: [
    number,
    number,
    string | null,
    number,
    Uint8Array,
  ]) =>
    Image.restore(
      width,
      height,
      contentType ?? undefined,
      channels === 0 ? undefined : (channels as ImageChannels),
      bytes,
    ),
});
addExtension({
  Class: Tensor,
  type: 0x54,
  write: (tensor: Tensor) => [tensor.dtype, tensor.shape, tensor.data],
  read: ([dtype, shape, data]: [TensorDType, number[], Tensor["data"]]) =>
    new Tensor(data, shape, dtype),
});

const IMAGE_FORMATS: ReadonlySet<string> = new Set(["jpeg", "png", "webp"]);

/** Encodes any sendable value (payloads, results, outputs) on its own. */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes what {@link encodeValue} encoded: plain data by the short path, the rest by msgpackr. */
export function decodeValue(bytes: Uint8Array): unknown {
  const plain = decodePlain(bytes);
  return plain === NOT_PLAIN ? packr.unpack(bytes) : plain;
}

export function encodeFrame(message: RunnerMessage | RankMessage): Uint8Array {
  const body = packr.pack(message);
  const frame = new Uint8Array(HEADER_BYTES + body.byteLength);
  new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES).setUint32(0, body.byteLength);
  frame.set(body, HEADER_BYTES);
  return frame;
}

/**
 * First body byte of a results frame in troupe's raw layout. MessagePack never uses 0xc1, so no
 * MessagePack-encoded message starts with it.
 */
const RESULTS_TAG = 0xc1;
const RESULTS_HEAD = 1 + 4 + 4;
/** Set in the item count of a frame whose items each carry a latest-wins key. */
const KEYED = 0x80000000;
/** The key length that stands for "no key". */
const NO_KEY = 0xffffffff;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A `results` message laid out by hand: the tag, the request id, the item count, then each
 * already-encoded item with its length. With `keys` (latest-wins keys, `null` for none), the count
 * has its top bit set and each item is preceded by its key's length (0xffffffff for none) and
 * UTF-8 bytes. The items are copied once, and neither side runs MessagePack over the frame: it is
 * the hot path of every streamed result.
 */
export function encodeResultsFrame(
  id: number,
  items: readonly Uint8Array[],
  keys?: readonly (string | null)[],
): Uint8Array {
  const keyBytes = keys?.map((key) => (key === null ? null : utf8.encode(key)));
  let size = RESULTS_HEAD;
  for (const item of items) size += 4 + item.byteLength;
  if (keyBytes !== undefined) for (const key of keyBytes) size += 4 + (key?.byteLength ?? 0);
  const frame = new Uint8Array(HEADER_BYTES + size);
  writeUint32(frame, 0, size);
  frame[HEADER_BYTES] = RESULTS_TAG;
  writeUint32(frame, HEADER_BYTES + 1, id);
  writeUint32(
    frame,
    HEADER_BYTES + 5,
    keyBytes === undefined ? items.length : items.length + KEYED,
  );
  let at = HEADER_BYTES + RESULTS_HEAD;
  for (let i = 0; i < items.length; i++) {
    if (keyBytes !== undefined) {
      const key = keyBytes[i] ?? null;
      writeUint32(frame, at, key === null ? NO_KEY : key.byteLength);
      if (key !== null) frame.set(key, at + 4);
      at += 4 + (key?.byteLength ?? 0);
    }
    const item = items[i] as Uint8Array;
    writeUint32(frame, at, item.byteLength);
    frame.set(item, at + 4);
    at += 4 + item.byteLength;
  }
  return frame;
}

/** Bytes of a one-result frame before the result: length, tag, request id, count, item length. */
export const RESULT_FRAME_OVERHEAD = HEADER_BYTES + RESULTS_HEAD + 4;

/**
 * A results frame of one result, in the layout of {@link encodeResultsFrame}, with the result
 * encoded straight after the header MessagePack leaves room for: one encode, no copy.
 */
export function encodeResultFrame(id: number, value: unknown): Uint8Array {
  const frame: Uint8Array = packr.pack(value, RESERVE_START_SPACE | RESULT_FRAME_OVERHEAD);
  writeResultFrameHeader(frame, id);
  return frame;
}

/**
 * Fills in the first RESULT_FRAME_OVERHEAD bytes of `frame`, a frame of one result whose encoded
 * bytes follow them.
 */
export function writeResultFrameHeader(frame: Uint8Array, id: number): void {
  writeUint32(frame, 0, frame.byteLength - HEADER_BYTES);
  frame[HEADER_BYTES] = RESULTS_TAG;
  writeUint32(frame, HEADER_BYTES + 1, id);
  writeUint32(frame, HEADER_BYTES + 5, 1);
  writeUint32(frame, HEADER_BYTES + 9, frame.byteLength - RESULT_FRAME_OVERHEAD);
}

/** A big-endian uint32, read without a DataView (one per frame would cost an allocation). */
function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset] as number) * 0x1000000 +
    (((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number))
  );
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/**
 * A `results` message decoded from the raw layout, which cannot hold anything but a well-formed
 * one: {@link parseRankMessage} passes it through unchecked (it is on the path of every result).
 */
class RawResults {
  readonly t = "results";
  readonly keys?: readonly (string | null)[];

  constructor(
    readonly id: number,
    readonly items: readonly Uint8Array[],
    keys: readonly (string | null)[] | undefined,
  ) {
    if (keys !== undefined) this.keys = keys;
  }
}

function decodeResultsBody(body: Uint8Array): unknown {
  const end = body.byteLength;
  if (end < RESULTS_HEAD) throw new ProtocolError(`Truncated results frame of ${end} bytes`);
  const id = readUint32(body, 1);
  const counted = readUint32(body, 5);
  const keyed = counted >= KEYED;
  const count = keyed ? counted - KEYED : counted;
  const items: Uint8Array[] = [];
  const keys: (string | null)[] | undefined = keyed ? [] : undefined;
  let at = RESULTS_HEAD;
  for (let i = 0; i < count; i++) {
    if (keys !== undefined) {
      const length = at + 4 <= end ? readUint32(body, at) : -1;
      if (length === NO_KEY) keys.push(null);
      else {
        checkField(length, at, end, "key", i, count);
        try {
          keys.push(fromUtf8.decode(body.subarray(at + 4, at + 4 + length)));
        } catch (cause) {
          throw new ProtocolError(`Results frame: key ${i} of ${count} is not UTF-8`, { cause });
        }
      }
      at += 4 + (length === NO_KEY ? 0 : length);
    }
    const length = at + 4 <= end ? readUint32(body, at) : -1;
    checkField(length, at, end, "item", i, count);
    // A plain Uint8Array view (not a Buffer, even when the chunk is one), as MessagePack gives.
    items.push(new Uint8Array(body.buffer, body.byteOffset + at + 4, length));
    at += 4 + length;
  }
  if (at !== end) {
    throw new ProtocolError(`Results frame has ${end - at} bytes after its last item`);
  }
  return new RawResults(id, items, keys);
}

/** Throws unless a field of `length` bytes (-1: its length is cut off) at `at` fits before `end`. */
function checkField(
  length: number,
  at: number,
  end: number,
  what: "key" | "item",
  i: number,
  count: number,
): void {
  if (length < 0 || at + 4 + length > end) {
    throw new ProtocolError(`Truncated results frame: ${what} ${i} of ${count} runs past its end`);
  }
}

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
      this.bodyLength = frameLength(this.header, 0);
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
      const length = frameLength(chunk, span);
      if (end - span - HEADER_BYTES < length) break;
      span += HEADER_BYTES + length;
    }
    if (span > at) {
      const frames = copy(chunk, at, span);
      for (let offset = 0; offset < frames.byteLength; ) {
        const start = offset + HEADER_BYTES;
        offset = start + frameLength(frames, offset);
        out.push(decodeBody(frames.subarray(start, offset)));
      }
    }
    // And keep the start of the next one.
    if (end - span >= HEADER_BYTES) {
      this.bodyLength = frameLength(chunk, span);
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

/** The body length a frame header at `offset` announces, checked against MAX_FRAME_BYTES. */
function frameLength(bytes: Uint8Array, offset: number): number {
  const length = readUint32(bytes, offset);
  if (length > MAX_FRAME_BYTES) {
    throw new ProtocolError(`Frame of ${length} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
  }
  return length;
}

function decodeBody(body: Uint8Array): unknown {
  return body[0] === RESULTS_TAG ? decodeResultsBody(body) : packr.unpack(body);
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

const LOG_LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

/** Checks that a decoded value is a well-formed {@link RankMessage}; throws ProtocolError if not. */
export function parseRankMessage(value: unknown): RankMessage {
  if (value instanceof RawResults) return value;
  const m = asRecord(value);
  switch (m.t) {
    case "ready":
    case "stopped":
      return { t: m.t };
    case "setupFailed":
      return { t: "setupFailed", error: errorField(m, "error") };
    case "results": {
      const items = m.items;
      if (!Array.isArray(items) || !items.every((item) => item instanceof Uint8Array)) {
        throw bad(m, "`items` must be an array of byte arrays");
      }
      const keys = m.keys;
      if (keys !== undefined) {
        if (
          !Array.isArray(keys) ||
          keys.length !== items.length ||
          !keys.every((k) => k === null || typeof k === "string")
        ) {
          throw bad(m, "`keys` must be an array of strings or nulls, one per item");
        }
        return { t: "results", id: idField(m), items, keys };
      }
      return { t: "results", id: idField(m), items };
    }
    case "streamError":
      return { t: "streamError", id: idField(m), error: errorField(m, "error") };
    case "done":
      if (!(m.output instanceof Uint8Array)) throw bad(m, "`output` must be bytes");
      return { t: "done", id: idField(m), output: m.output };
    case "failed":
      if (typeof m.aborted !== "boolean") throw bad(m, "`aborted` must be a boolean");
      return { t: "failed", id: idField(m), error: errorField(m, "error"), aborted: m.aborted };
    case "log":
      if (typeof m.level !== "string" || !LOG_LEVELS.has(m.level) || typeof m.msg !== "string") {
        throw bad(m, "`level` and `msg` must be a log level and a string");
      }
      return { t: "log", level: m.level as LogLevel, msg: m.msg };
    default:
      throw new ProtocolError(`Unknown message type ${JSON.stringify(m.t)} from a rank`);
  }
}

/** Checks that a decoded value is a well-formed {@link RunnerMessage}; throws ProtocolError if not. */
export function parseRunnerMessage(value: unknown): RunnerMessage {
  const m = asRecord(value);
  switch (m.t) {
    case "init": {
      if (m.config === null || typeof m.config !== "object")
        throw bad(m, "`config` must be an object");
      const config = m.config as Record<string, unknown>;
      if (typeof m.worker !== "string") throw bad(m, "`worker` must be a string");
      if (
        typeof config.streamAllRanks !== "boolean" ||
        typeof config.maxPendingBytes !== "number" ||
        typeof config.highWaterMark !== "number" ||
        typeof config.collectiveTimeout !== "number"
      ) {
        throw bad(m, "`config` is incomplete");
      }
      return {
        t: "init",
        worker: m.worker,
        setup: m.setup,
        config: {
          streamAllRanks: config.streamAllRanks,
          maxPendingBytes: config.maxPendingBytes,
          highWaterMark: config.highWaterMark,
          collectiveTimeout: config.collectiveTimeout,
        },
      };
    }
    case "call":
      if (typeof m.requestId !== "string" || typeof m.streaming !== "boolean") {
        throw bad(m, "`requestId` and `streaming` must be a string and a boolean");
      }
      if (!(m.payload instanceof Uint8Array)) throw bad(m, "`payload` must be bytes");
      if (!IMAGE_FORMATS.has(m.imageFormat as string)) {
        throw bad(m, "`imageFormat` must be jpeg, png or webp");
      }
      return {
        t: "call",
        id: idField(m),
        requestId: m.requestId,
        payload: m.payload,
        streaming: m.streaming,
        imageFormat: m.imageFormat as ImageFormat,
      };
    case "cancel":
      return { t: "cancel", id: idField(m), reason: errorField(m, "reason") };
    case "stop":
      return { t: "stop" };
    default:
      throw new ProtocolError(`Unknown message type ${JSON.stringify(m.t)} from the runner`);
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolError(`Expected a message object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function idField(m: Record<string, unknown>): number {
  if (typeof m.id !== "number" || !Number.isSafeInteger(m.id) || m.id < 1) {
    throw bad(m, "`id` must be a positive integer");
  }
  return m.id;
}

function errorField(m: Record<string, unknown>, key: string): SerializedError {
  const e = m[key];
  if (e === null || typeof e !== "object") throw bad(m, `\`${key}\` must be an error object`);
  const r = e as Record<string, unknown>;
  if (typeof r.name !== "string" || typeof r.message !== "string") {
    throw bad(m, `\`${key}\` must have a string name and message`);
  }
  return r as unknown as SerializedError;
}

function bad(m: Record<string, unknown>, problem: string): ProtocolError {
  return new ProtocolError(`Malformed ${JSON.stringify(m.t)} message: ${problem}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
