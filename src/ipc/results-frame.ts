/**
 * The frame of streamed results, the hot path of every result: the length header, a tag byte
 * MessagePack never starts a message with, the request id, the item count, then each result's
 * encoded bytes with their length. With latest-wins keys the count has its top bit set and each
 * item is preceded by its key's length (0xffffffff for none) and UTF-8 bytes. Neither side runs
 * MessagePack over the frame: the items are carried as they are, and read by `decodeValue`.
 */

import { RESERVE_START_SPACE } from "msgpackr";
import { ProtocolError } from "../errors.ts";
import { HEADER_BYTES, readUint32, writeUint32 } from "./frame-header.ts";
import { packr } from "./packr.ts";
import { encodePlain } from "./plain-encode.ts";

/** First body byte of a results frame. MessagePack never uses 0xc1. */
export const RESULTS_TAG = 0xc1;
const RESULTS_HEAD = 1 + 4 + 4;
/** Set in the item count of a frame whose items each carry a latest-wins key. */
const KEYED = 0x80000000;
/** The key length that stands for "no key". */
const NO_KEY = 0xffffffff;
/** Bytes of a one-result frame before the result: length, tag, request id, count, item length. */
export const RESULT_FRAME_OVERHEAD = HEADER_BYTES + RESULTS_HEAD + 4;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A results frame of request `id` holding `items`, each already encoded on its own
 * (`encodeValue`), with their latest-wins `keys` (`null` for none) when any has one. The items
 * are copied once.
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
  writeHead(frame, id, keyBytes === undefined ? items.length : items.length + KEYED);
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

/**
 * The frame {@link encodeResultsFrame} gives for `value` alone, encoded straight into it: one
 * encode, no copy. Plain data (see `plain-encode.ts`) takes the short branch, pinned byte for byte
 * against msgpackr; anything else, msgpackr, which expects a value already checked as sendable.
 * With `plainOnly`, a value that is not plain data gives `undefined` instead, so that the caller
 * can check it first.
 *
 * The frame may be a view of a scratch buffer that the next call overwrites: write or copy it
 * before then.
 */
export function encodeResultFrame(id: number, value: unknown): Uint8Array;
export function encodeResultFrame(
  id: number,
  value: unknown,
  plainOnly: boolean,
): Uint8Array | undefined;
export function encodeResultFrame(
  id: number,
  value: unknown,
  plainOnly = false,
): Uint8Array | undefined {
  let frame = encodePlain(value, RESULT_FRAME_OVERHEAD);
  if (frame === undefined) {
    if (plainOnly) return undefined;
    frame = packr.pack(value, RESERVE_START_SPACE | RESULT_FRAME_OVERHEAD) as Uint8Array;
  }
  writeHead(frame, id, 1);
  writeUint32(frame, HEADER_BYTES + RESULTS_HEAD, frame.byteLength - RESULT_FRAME_OVERHEAD);
  return frame;
}

/** The length header, tag, request id and item count at the start of `frame`. */
function writeHead(frame: Uint8Array, id: number, count: number): void {
  writeUint32(frame, 0, frame.byteLength - HEADER_BYTES);
  frame[HEADER_BYTES] = RESULTS_TAG;
  writeUint32(frame, HEADER_BYTES + 1, id);
  writeUint32(frame, HEADER_BYTES + 5, count);
}

/**
 * A `results` message decoded from a results frame, which cannot hold anything but a
 * well-formed one: `parseRankMessage` passes it through unchecked (it is on the path of every
 * result).
 */
export class DecodedResults {
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

/**
 * Reads a results frame's body (the frame without its length header): each item a view of
 * `body`, whose memory the caller must not reuse. Throws ProtocolError on a malformed body.
 */
export function decodeResultsBody(body: Uint8Array): DecodedResults {
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
  return new DecodedResults(id, items, keys);
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
